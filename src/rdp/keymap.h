/*
 * keymap.h: RDP keyboard events to terminal keys.
 *
 * An RDP client sends scancodes (set 1, with KBDFLAGS_EXTENDED for the
 * E0-prefixed keys) and key up/down; the server owns the layout.  A keymap
 * turns a scancode plus the modifier state into either a character
 * (Unicode, after shift / caps lock / AltGr) or a special key (arrows,
 * editing keys, F1-F12, keypad), with Ctrl/Alt/Shift as modifiers.  The
 * screen then asks libvterm for the bytes (so that application cursor
 * and keypad modes are honoured) or, for Ctrl/Alt with characters, uses
 * the classic xterm bytes (Ctrl+letter: 0x01-0x1a, Alt: ESC prefix).
 *
 * Layouts: "us" (default) and "de" (German, with AltGr and dead keys
 * treated as plain characters).  Static tables, no allocation.
 */
#ifndef HF_RDP_KEYMAP_H
#define HF_RDP_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

/* TS_KEYBOARD_EVENT keyboardFlags ([MS-RDPBCGR] 2.2.8.1.1.3.1.1.1);
 * term.c converts fast-path flags to these. */
#define KBDFLAGS_EXTENDED        0x0100
#define KBDFLAGS_EXTENDED1       0x0200
#define KBDFLAGS_DOWN            0x4000
#define KBDFLAGS_RELEASE         0x8000
/* TS_SYNC_EVENT toggleFlags (2.2.8.1.1.3.1.1.5). */
#define TS_SYNC_SCROLL_LOCK      0x01
#define TS_SYNC_NUM_LOCK         0x02
#define TS_SYNC_CAPS_LOCK        0x04
#define TS_SYNC_KANA_LOCK        0x08

/* Modifier bits, equal to libvterm's VTermModifier. */
#define KEYMAP_MOD_SHIFT         0x01
#define KEYMAP_MOD_ALT           0x02
#define KEYMAP_MOD_CTRL          0x04

struct keymap;

/* Modifier and lock state of one keyboard (one per screen). */
struct keymap_state {
	uint8_t shift_l, shift_r, ctrl_l, ctrl_r, alt_l, alt_r; /* AltGr is alt_r */
	uint8_t caps_lock, num_lock;
};

enum keymap_kind {
	KEYMAP_NONE = 0,     /* nothing to send (modifier, key up, unknown) */
	KEYMAP_CHAR,         /* value: a Unicode code point */
	KEYMAP_KEY,          /* value: a libvterm VTermKey */
};

struct keymap_event {
	enum keymap_kind kind;
	uint32_t value;
	int mods;            /* KEYMAP_MOD_*: Shift only for keys; Ctrl, Alt */
};

/* The layout of that name ("us", "de"), or NULL if unknown. */
const struct keymap *keymap_find(const char *name);
const char *keymap_name(const struct keymap *km);

void keymap_state_init(struct keymap_state *st);
/* A synchronize event sets the lock keys and releases every modifier. */
void keymap_sync(struct keymap_state *st, uint32_t toggle_flags);

/* One scancode event: updates st and fills ev (kind NONE if nothing is
 * to be sent).  Scancodes beyond the table give NONE. */
void keymap_scancode(const struct keymap *km, struct keymap_state *st, uint16_t flags, uint16_t scancode,
                     struct keymap_event *ev);

/* Bytes for ev that do not depend on terminal modes: characters (UTF-8,
 * Ctrl and Alt applied as xterm does).  Returns the count written to out
 * (at most KEYMAP_CHAR_MAX_BYTES), 0 if ev is not a character. */
#define KEYMAP_CHAR_MAX_BYTES    8
size_t keymap_char_bytes(const struct keymap_event *ev, char *out);

#endif
