/*
 * keymap.c: RDP scancodes to terminal keys (see keymap.h).
 *
 * Role: the server owns the keyboard layout in RDP.  Each layout is a
 * static table indexed by the set-1 scancode (0x00-0x58) holding the
 * character without and with Shift and with AltGr, and whether Caps Lock
 * applies.  Keys that are not characters (editing keys, arrows, function
 * keys, keypad, Enter/Tab/Backspace/Escape) come from one shared table and
 * become libvterm keys, so the terminal's cursor-key and keypad modes
 * decide their bytes.
 *
 * Modifiers: Shift, Ctrl and Alt are tracked per side; right Alt is AltGr
 * on layouts that have AltGr characters (then it is not Alt).  Ctrl with a
 * character gives the C0 control xterm gives (Ctrl+A = 0x01, Ctrl+[ =
 * ESC, Ctrl+Space = NUL ...); Alt gives an ESC prefix.
 *
 * Limits: scancodes past KEYMAP_SCANCODES and E1-prefixed keys (Pause)
 * give nothing.  Dead keys of "de" (^ and the acute/grave accents) are
 * plain characters: a terminal has no compose step.
 */
#include <string.h>

#include <vterm_keycodes.h>

#include "rdp/keymap.h"

#define KEYMAP_SCANCODES        0x59

struct keymap_key {
	uint16_t normal, shifted, altgr;
	uint8_t alpha;          /* Caps Lock acts as Shift */
};

struct keymap {
	const char *name;
	int has_altgr;
	const struct keymap_key *keys;   /* KEYMAP_SCANCODES entries */
};

#define K(n, s) { (n), (s), 0, 0 }
#define A(n, s) { (n), (s), 0, 1 }
#define G(n, s, g) { (n), (s), (g), 0 }
#define AG(n, s, g) { (n), (s), (g), 1 }

static const struct keymap_key keys_us[KEYMAP_SCANCODES] = {
	[0x02] = K('1', '!'), [0x03] = K('2', '@'), [0x04] = K('3', '#'), [0x05] = K('4', '$'),
	[0x06] = K('5', '%'), [0x07] = K('6', '^'), [0x08] = K('7', '&'), [0x09] = K('8', '*'),
	[0x0a] = K('9', '('), [0x0b] = K('0', ')'), [0x0c] = K('-', '_'), [0x0d] = K('=', '+'),
	[0x10] = A('q', 'Q'), [0x11] = A('w', 'W'), [0x12] = A('e', 'E'), [0x13] = A('r', 'R'),
	[0x14] = A('t', 'T'), [0x15] = A('y', 'Y'), [0x16] = A('u', 'U'), [0x17] = A('i', 'I'),
	[0x18] = A('o', 'O'), [0x19] = A('p', 'P'), [0x1a] = K('[', '{'), [0x1b] = K(']', '}'),
	[0x1e] = A('a', 'A'), [0x1f] = A('s', 'S'), [0x20] = A('d', 'D'), [0x21] = A('f', 'F'),
	[0x22] = A('g', 'G'), [0x23] = A('h', 'H'), [0x24] = A('j', 'J'), [0x25] = A('k', 'K'),
	[0x26] = A('l', 'L'), [0x27] = K(';', ':'), [0x28] = K('\'', '"'), [0x29] = K('`', '~'),
	[0x2b] = K('\\', '|'), [0x2c] = A('z', 'Z'), [0x2d] = A('x', 'X'), [0x2e] = A('c', 'C'),
	[0x2f] = A('v', 'V'), [0x30] = A('b', 'B'), [0x31] = A('n', 'N'), [0x32] = A('m', 'M'),
	[0x33] = K(',', '<'), [0x34] = K('.', '>'), [0x35] = K('/', '?'), [0x39] = K(' ', ' '),
	[0x56] = K('\\', '|'),
};

static const struct keymap_key keys_de[KEYMAP_SCANCODES] = {
	[0x02] = K('1', '!'), [0x03] = G('2', '"', 0xb2), [0x04] = G('3', 0xa7, 0xb3),
	[0x05] = K('4', '$'), [0x06] = K('5', '%'), [0x07] = K('6', '&'),
	[0x08] = G('7', '/', '{'), [0x09] = G('8', '(', '['), [0x0a] = G('9', ')', ']'),
	[0x0b] = G('0', '=', '}'), [0x0c] = G(0xdf, '?', '\\'), [0x0d] = K(0xb4, '`'),
	[0x10] = AG('q', 'Q', '@'), [0x11] = A('w', 'W'), [0x12] = AG('e', 'E', 0x20ac),
	[0x13] = A('r', 'R'), [0x14] = A('t', 'T'), [0x15] = A('z', 'Z'), [0x16] = A('u', 'U'),
	[0x17] = A('i', 'I'), [0x18] = A('o', 'O'), [0x19] = A('p', 'P'),
	[0x1a] = A(0xfc, 0xdc), [0x1b] = G('+', '*', '~'),
	[0x1e] = A('a', 'A'), [0x1f] = A('s', 'S'), [0x20] = A('d', 'D'), [0x21] = A('f', 'F'),
	[0x22] = A('g', 'G'), [0x23] = A('h', 'H'), [0x24] = A('j', 'J'), [0x25] = A('k', 'K'),
	[0x26] = A('l', 'L'), [0x27] = A(0xf6, 0xd6), [0x28] = A(0xe4, 0xc4), [0x29] = K('^', 0xb0),
	[0x2b] = K('#', '\''), [0x2c] = A('y', 'Y'), [0x2d] = A('x', 'X'), [0x2e] = A('c', 'C'),
	[0x2f] = A('v', 'V'), [0x30] = A('b', 'B'), [0x31] = A('n', 'N'), [0x32] = AG('m', 'M', 0xb5),
	[0x33] = K(',', ';'), [0x34] = K('.', ':'), [0x35] = K('-', '_'), [0x39] = K(' ', ' '),
	[0x56] = G('<', '>', '|'),
};

#undef K
#undef A
#undef G
#undef AG

static const struct keymap keymaps[] = {
	{ "us", 0, keys_us },
	{ "de", 1, keys_de },
};

const struct keymap *
keymap_find(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0')
		return &keymaps[0];
	for (i = 0; i < sizeof(keymaps) / sizeof(keymaps[0]); i++)
		if (strcmp(keymaps[i].name, name) == 0)
			return &keymaps[i];
	return NULL;
}

const char *
keymap_name(const struct keymap *km)
{
	return km ? km->name : "us";
}

void
keymap_state_init(struct keymap_state *st)
{
	memset(st, 0, sizeof(*st));
}

void
keymap_sync(struct keymap_state *st, uint32_t toggle_flags)
{
	keymap_state_init(st);
	st->caps_lock = (toggle_flags & TS_SYNC_CAPS_LOCK) != 0;
	st->num_lock = (toggle_flags & TS_SYNC_NUM_LOCK) != 0;
}

/* Keys that are not characters, by scancode; ext: with KBDFLAGS_EXTENDED. */
static int
keymap_special(uint16_t code, int ext, int num_lock, int shift, uint32_t *key)
{
	static const uint16_t kp_nav[] = {
		/* 0x47 .. 0x53 with Num Lock off (or an E0 prefix) */
		VTERM_KEY_HOME, VTERM_KEY_UP, VTERM_KEY_PAGEUP, 0, VTERM_KEY_LEFT, 0,
		VTERM_KEY_RIGHT, 0, VTERM_KEY_END, VTERM_KEY_DOWN, VTERM_KEY_PAGEDOWN,
		VTERM_KEY_INS, VTERM_KEY_DEL,
	};
	static const uint16_t kp_num[] = {
		VTERM_KEY_KP_7, VTERM_KEY_KP_8, VTERM_KEY_KP_9, VTERM_KEY_KP_MINUS,
		VTERM_KEY_KP_4, VTERM_KEY_KP_5, VTERM_KEY_KP_6, VTERM_KEY_KP_PLUS,
		VTERM_KEY_KP_1, VTERM_KEY_KP_2, VTERM_KEY_KP_3, VTERM_KEY_KP_0,
		VTERM_KEY_KP_PERIOD,
	};

	*key = 0;
	if (ext) {
		switch (code) {
		case 0x1c: *key = VTERM_KEY_ENTER; break;   /* libvterm would send LF for KP_ENTER */
		case 0x35: *key = VTERM_KEY_KP_DIVIDE; break;
		default:
			if (code >= 0x47 && code <= 0x53)
				*key = kp_nav[code - 0x47];
			break;
		}
		return *key != 0;
	}
	switch (code) {
	case 0x01: *key = VTERM_KEY_ESCAPE; break;
	case 0x0e: *key = VTERM_KEY_BACKSPACE; break;
	case 0x0f: *key = VTERM_KEY_TAB; break;
	case 0x1c: *key = VTERM_KEY_ENTER; break;
	case 0x37: *key = VTERM_KEY_KP_MULT; break;
	case 0x57: *key = VTERM_KEY_FUNCTION(11); break;
	case 0x58: *key = VTERM_KEY_FUNCTION(12); break;
	default:
		if (code >= 0x3b && code <= 0x44)
			*key = VTERM_KEY_FUNCTION(code - 0x3b + 1);
		else if (code >= 0x47 && code <= 0x53)
			*key = (num_lock && !shift) || code == 0x4a || code == 0x4e
			     ? kp_num[code - 0x47] : kp_nav[code - 0x47];
		break;
	}
	return *key != 0;
}

void
keymap_scancode(const struct keymap *km, struct keymap_state *st, uint16_t flags, uint16_t code,
                struct keymap_event *ev)
{
	const struct keymap_key *k;
	int down = !(flags & KBDFLAGS_RELEASE);
	int ext = (flags & KBDFLAGS_EXTENDED) != 0;
	int shift, altgr;
	uint8_t v = down ? 1 : 0;
	uint32_t key, c;

	memset(ev, 0, sizeof(*ev));
	if (km == NULL)
		km = &keymaps[0];
	if (flags & KBDFLAGS_EXTENDED1)
		return;             /* Pause/Break */
	switch (code) {
	case 0x2a: if (!ext) st->shift_l = v; return;   /* E0 2A is a fake shift */
	case 0x36: if (!ext) st->shift_r = v; return;
	case 0x1d: if (ext) st->ctrl_r = v; else st->ctrl_l = v; return;
	case 0x38: if (ext) st->alt_r = v; else st->alt_l = v; return;
	case 0x3a: if (down) st->caps_lock = !st->caps_lock; return;
	case 0x45: if (down && !ext) st->num_lock = !st->num_lock; return;
	case 0x46: return;       /* Scroll Lock */
	case 0x5b: case 0x5c: case 0x5d: if (ext) return; break;   /* Windows, Menu */
	default: break;
	}
	if (!down)
		return;
	shift = st->shift_l || st->shift_r;
	altgr = km->has_altgr && st->alt_r;
	if (st->ctrl_l || st->ctrl_r)
		ev->mods |= KEYMAP_MOD_CTRL;
	if (st->alt_l || (st->alt_r && !km->has_altgr))
		ev->mods |= KEYMAP_MOD_ALT;
	if (keymap_special(code, ext, st->num_lock, shift, &key)) {
		ev->kind = KEYMAP_KEY;
		ev->value = key;
		if (shift)
			ev->mods |= KEYMAP_MOD_SHIFT;
		return;
	}
	if (ext || code >= KEYMAP_SCANCODES)
		return;
	k = &km->keys[code];
	if (k->normal == 0)
		return;
	if (altgr) {
		if (k->altgr == 0)
			return;
		c = k->altgr;
		/* Windows clients send AltGr as LCtrl + RAlt: not a Ctrl key. */
		ev->mods &= ~KEYMAP_MOD_CTRL;
	} else {
		if (k->alpha && st->caps_lock)
			shift = !shift;
		c = shift ? k->shifted : k->normal;
	}
	ev->kind = KEYMAP_CHAR;
	ev->value = c;
	if (c == ' ' && (st->shift_l || st->shift_r))
		ev->mods |= KEYMAP_MOD_SHIFT;
}

static size_t
utf8_put(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c >= 0xd800 && c <= 0xdfff)
		return 0;
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c <= 0x10ffff) {
		out[0] = (char)(0xf0 | c >> 18);
		out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[3] = (char)(0x80 | (c & 0x3f));
		return 4;
	}
	return 0;
}

/* The C0 control xterm sends for Ctrl+c, or -1 if Ctrl does nothing to c. */
static int
keymap_ctrl(uint32_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return (int)(c & 0x1f);
	switch (c) {
	case ' ': case '@': case '2': return 0x00;
	case '[': case '3': return 0x1b;
	case '\\': case '4': return 0x1c;
	case ']': case '5': return 0x1d;
	case '^': case '6': case '~': return 0x1e;
	case '_': case '7': case '/': case '-': return 0x1f;
	case '8': case '?': return 0x7f;
	default: return -1;
	}
}

size_t
keymap_char_bytes(const struct keymap_event *ev, char *out)
{
	size_t n = 0;
	uint32_t c;
	int cc;

	if (ev->kind != KEYMAP_CHAR)
		return 0;
	c = ev->value;
	if (ev->mods & KEYMAP_MOD_ALT)
		out[n++] = '\x1b';
	if (ev->mods & KEYMAP_MOD_CTRL) {
		cc = keymap_ctrl(c);
		if (cc >= 0) {
			out[n++] = (char)cc;
			return n;
		}
	}
	n += utf8_put(c, out + n);
	return n == 1 && (ev->mods & KEYMAP_MOD_ALT) ? 0 : n;
}
