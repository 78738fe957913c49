/*
 * test_rdp_keymap.c: unit tests for src/rdp/keymap.c, through the screen
 * (so that the bytes are what the pty would read, libvterm's modes
 * included).
 *
 * US layout: letters with Shift and Caps Lock (and both), digits and
 * symbols, Ctrl combinations (Ctrl+C, Ctrl+[, Ctrl+Space, Ctrl+\), Alt as
 * an ESC prefix, Enter/Tab/Backspace/Escape, arrows in normal and
 * application cursor mode, Home/End/PgUp/PgDn/Ins/Del (E0 keys), F1-F12,
 * the keypad with and without Num Lock and in application keypad mode.
 * German layout: Y/Z swapped, umlauts with Caps Lock, AltGr (Q -> @,
 * E -> €, 7 -> {) also when the client sends AltGr as LCtrl + RAlt.
 * Key-up events, lone modifiers and unknown scancodes give nothing; a
 * synchronize event sets Caps Lock and releases modifiers.  Unicode events:
 * BMP characters and surrogate pairs as UTF-8, lone surrogates dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"
#include "rdp/keymap.h"
#include "rdp/screen.h"

#define DOWN 0
#define UP KBDFLAGS_RELEASE
#define EXT KBDFLAGS_EXTENDED

/* Scancodes (set 1). */
#define SC_ESC 0x01
#define SC_1 0x02
#define SC_2 0x03
#define SC_7 0x08
#define SC_BS 0x0e
#define SC_TAB 0x0f
#define SC_Q 0x10
#define SC_E 0x12
#define SC_Y 0x15
#define SC_LBRACKET 0x1a
#define SC_ENTER 0x1c
#define SC_LCTRL 0x1d
#define SC_A 0x1e
#define SC_SEMI 0x27
#define SC_LSHIFT 0x2a
#define SC_BACKSLASH 0x2b
#define SC_Z 0x2c
#define SC_C 0x2e
#define SC_X 0x2d
#define SC_RSHIFT 0x36
#define SC_ALT 0x38
#define SC_SPACE 0x39
#define SC_CAPS 0x3a
#define SC_F1 0x3b
#define SC_F5 0x3f
#define SC_F10 0x44
#define SC_NUMLOCK 0x45
#define SC_KP7 0x47
#define SC_UP 0x48
#define SC_PGUP 0x49
#define SC_KPMINUS 0x4a
#define SC_LEFT 0x4b
#define SC_END 0x4f
#define SC_DOWN 0x50
#define SC_INS 0x52
#define SC_DEL 0x53
#define SC_F11 0x57
#define SC_F12 0x58

static struct region *root;

static int
setup(void **state)
{
	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	region_release(root);
	return 0;
}

static struct screen *
new_screen(const char *layout)
{
	struct screen *s = screen_new(root, NULL, 640, 480);

	assert_non_null(s);
	if (layout != NULL) {
		assert_non_null(keymap_find(layout));
		screen_set_keymap(s, keymap_find(layout));
	}
	return s;
}

/* Presses and releases a key; returns the bytes it produced. */
static const char *
tap(struct screen *s, uint16_t flags, uint16_t code)
{
	static char buf[64];
	size_t n;

	screen_key_scancode(s, flags | DOWN, code);
	screen_key_scancode(s, flags | UP, code);
	n = screen_take_output(s, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	return buf;
}

static void
hold(struct screen *s, uint16_t flags, uint16_t code)
{
	screen_key_scancode(s, flags, code);
}

static void
test_us_letters(void **state)
{
	struct screen *s = new_screen(NULL);

	(void)state;
	assert_string_equal(tap(s, 0, SC_A), "a");
	assert_string_equal(tap(s, 0, SC_Z), "z");
	assert_string_equal(tap(s, 0, SC_1), "1");
	assert_string_equal(tap(s, 0, SC_SEMI), ";");
	assert_string_equal(tap(s, 0, SC_SPACE), " ");
	hold(s, DOWN, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_A), "A");
	assert_string_equal(tap(s, 0, SC_1), "!");
	assert_string_equal(tap(s, 0, SC_2), "@");
	assert_string_equal(tap(s, 0, SC_BACKSLASH), "|");
	hold(s, UP, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_A), "a");
	hold(s, DOWN, SC_RSHIFT);
	assert_string_equal(tap(s, 0, SC_C), "C");
	hold(s, UP, SC_RSHIFT);
	/* Caps Lock: letters only; with Shift back to lower case. */
	assert_string_equal(tap(s, 0, SC_CAPS), "");
	assert_string_equal(tap(s, 0, SC_A), "A");
	assert_string_equal(tap(s, 0, SC_1), "1");
	hold(s, DOWN, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_A), "a");
	hold(s, UP, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_CAPS), "");
	assert_string_equal(tap(s, 0, SC_A), "a");
	screen_free(s);
}

static void
test_ctrl_alt(void **state)
{
	struct screen *s = new_screen("us");

	(void)state;
	hold(s, DOWN, SC_LCTRL);
	assert_string_equal(tap(s, 0, SC_C), "\x03");
	assert_string_equal(tap(s, 0, SC_A), "\x01");
	assert_string_equal(tap(s, 0, SC_LBRACKET), "\x1b");
	assert_string_equal(tap(s, 0, SC_BACKSLASH), "\x1c");
	screen_key_scancode(s, DOWN, SC_SPACE);
	assert_int_equal(screen_output_pending(s), 1);   /* NUL */
	screen_key_scancode(s, UP, SC_SPACE);
	{
		char c = 'x';
		assert_int_equal(screen_take_output(s, &c, 1), 1);
		assert_int_equal(c, 0);
	}
	hold(s, UP, SC_LCTRL);
	hold(s, DOWN | EXT, SC_LCTRL);       /* right Ctrl */
	assert_string_equal(tap(s, 0, SC_Z), "\x1a");
	hold(s, UP | EXT, SC_LCTRL);
	hold(s, DOWN, SC_ALT);
	assert_string_equal(tap(s, 0, SC_X), "\x1bx");
	hold(s, DOWN, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_X), "\x1bX");
	hold(s, UP, SC_LSHIFT);
	hold(s, UP, SC_ALT);
	hold(s, DOWN | EXT, SC_ALT);         /* right Alt on US: Alt too */
	assert_string_equal(tap(s, 0, SC_X), "\x1bx");
	hold(s, UP | EXT, SC_ALT);
	assert_string_equal(tap(s, 0, SC_X), "x");
	screen_free(s);
}

static void
test_special_keys(void **state)
{
	struct screen *s = new_screen(NULL);

	(void)state;
	assert_string_equal(tap(s, 0, SC_ENTER), "\r");
	assert_string_equal(tap(s, 0, SC_TAB), "\t");
	assert_string_equal(tap(s, 0, SC_BS), "\x7f");
	assert_string_equal(tap(s, 0, SC_ESC), "\x1b");
	assert_string_equal(tap(s, EXT, SC_UP), "\e[A");
	assert_string_equal(tap(s, EXT, SC_DOWN), "\e[B");
	assert_string_equal(tap(s, EXT, SC_LEFT), "\e[D");
	assert_string_equal(tap(s, EXT, SC_KP7), "\e[H");     /* Home */
	assert_string_equal(tap(s, EXT, SC_END), "\e[F");
	assert_string_equal(tap(s, EXT, SC_PGUP), "\e[5~");
	assert_string_equal(tap(s, EXT, SC_INS), "\e[2~");
	assert_string_equal(tap(s, EXT, SC_DEL), "\e[3~");
	assert_string_equal(tap(s, 0, SC_F1), "\eOP");
	assert_string_equal(tap(s, 0, SC_F5), "\e[15~");
	assert_string_equal(tap(s, 0, SC_F10), "\e[21~");
	assert_string_equal(tap(s, 0, SC_F11), "\e[23~");
	assert_string_equal(tap(s, 0, SC_F12), "\e[24~");
	/* Modifiers on special keys: Ctrl+Up. */
	hold(s, DOWN, SC_LCTRL);
	assert_string_equal(tap(s, EXT, SC_UP), "\e[1;5A");
	hold(s, UP, SC_LCTRL);
	hold(s, DOWN, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_TAB), "\e[Z");
	hold(s, UP, SC_LSHIFT);
	/* Application cursor keys (vi, less): ESC O A. */
	screen_write(s, "\e[?1h", 5);
	assert_string_equal(tap(s, EXT, SC_UP), "\eOA");
	screen_write(s, "\e[?1l", 5);
	assert_string_equal(tap(s, EXT, SC_UP), "\e[A");
	screen_free(s);
}

static void
test_keypad(void **state)
{
	struct screen *s = new_screen(NULL);

	(void)state;
	/* Num Lock off: navigation. */
	assert_string_equal(tap(s, 0, SC_KP7), "\e[H");
	assert_string_equal(tap(s, 0, SC_UP), "\e[A");
	assert_string_equal(tap(s, 0, SC_KPMINUS), "-");
	assert_string_equal(tap(s, 0, SC_NUMLOCK), "");
	assert_string_equal(tap(s, 0, SC_KP7), "7");
	assert_string_equal(tap(s, 0, SC_UP), "8");
	assert_string_equal(tap(s, 0, SC_DEL), ".");
	assert_string_equal(tap(s, EXT, SC_ENTER), "\r");       /* keypad Enter */
	assert_string_equal(tap(s, EXT, 0x35), "/");            /* keypad / */
	/* Application keypad mode (DECKPAM). */
	screen_write(s, "\e=", 2);
	assert_string_equal(tap(s, 0, SC_KP7), "\eOw");
	screen_write(s, "\e>", 2);
	/* A synchronize event: Num Lock off again, Caps Lock on. */
	screen_key_sync(s, TS_SYNC_CAPS_LOCK);
	assert_string_equal(tap(s, 0, SC_KP7), "\e[H");
	assert_string_equal(tap(s, 0, SC_A), "A");
	/* ... and it releases held modifiers. */
	hold(s, DOWN, SC_LCTRL);
	screen_key_sync(s, 0);
	assert_string_equal(tap(s, 0, SC_A), "a");
	screen_free(s);
}

static void
test_german(void **state)
{
	struct screen *s = new_screen("de");

	(void)state;
	assert_string_equal(keymap_name(keymap_find("de")), "de");
	assert_null(keymap_find("xx"));
	assert_string_equal(tap(s, 0, SC_Y), "z");
	assert_string_equal(tap(s, 0, SC_Z), "y");
	assert_string_equal(tap(s, 0, SC_SEMI), "\xc3\xb6");       /* ö */
	hold(s, DOWN, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_2), "\"");
	assert_string_equal(tap(s, 0, SC_7), "/");
	assert_string_equal(tap(s, 0, SC_SEMI), "\xc3\x96");       /* Ö */
	hold(s, UP, SC_LSHIFT);
	assert_string_equal(tap(s, 0, SC_CAPS), "");
	assert_string_equal(tap(s, 0, SC_SEMI), "\xc3\x96");       /* Caps: Ö */
	assert_string_equal(tap(s, 0, SC_CAPS), "");
	/* AltGr. */
	hold(s, DOWN | EXT, SC_ALT);
	assert_string_equal(tap(s, 0, SC_Q), "@");
	assert_string_equal(tap(s, 0, SC_E), "\xe2\x82\xac");      /* € */
	assert_string_equal(tap(s, 0, SC_7), "{");
	assert_string_equal(tap(s, 0, SC_A), "");                  /* no AltGr char */
	hold(s, UP | EXT, SC_ALT);
	/* Windows clients: LCtrl + RAlt. */
	hold(s, DOWN, SC_LCTRL);
	hold(s, DOWN | EXT, SC_ALT);
	assert_string_equal(tap(s, 0, SC_Q), "@");
	hold(s, UP | EXT, SC_ALT);
	assert_string_equal(tap(s, 0, SC_Q), "\x11");              /* Ctrl+Q again */
	hold(s, UP, SC_LCTRL);
	/* Left Alt is still Alt. */
	hold(s, DOWN, SC_ALT);
	assert_string_equal(tap(s, 0, SC_Q), "\x1bq");
	hold(s, UP, SC_ALT);
	screen_free(s);
}

static void
test_nothing(void **state)
{
	struct screen *s = new_screen(NULL);

	(void)state;
	screen_key_scancode(s, UP, SC_A);
	screen_key_scancode(s, DOWN, SC_LSHIFT);
	screen_key_scancode(s, UP, SC_LSHIFT);
	screen_key_scancode(s, DOWN, 0x00);
	screen_key_scancode(s, DOWN, 0x59);
	screen_key_scancode(s, DOWN, 0x7f);
	screen_key_scancode(s, DOWN, 0xffff);
	screen_key_scancode(s, DOWN | EXT, SC_A);
	screen_key_scancode(s, DOWN | KBDFLAGS_EXTENDED1, SC_LCTRL);   /* Pause */
	screen_key_scancode(s, DOWN | EXT, SC_LSHIFT);                 /* fake shift */
	screen_key_scancode(s, DOWN | EXT, 0x5b);                      /* Windows */
	assert_int_equal(screen_output_pending(s), 0);
	assert_string_equal(tap(s, 0, SC_A), "a");
	screen_free(s);
}

static void
test_unicode(void **state)
{
	struct screen *s = new_screen(NULL);
	char buf[32];
	size_t n;

	(void)state;
	screen_key_unicode(s, 0, 'a');
	screen_key_unicode(s, KBDFLAGS_RELEASE, 'a');
	screen_key_unicode(s, 0, 0xe9);                 /* é */
	screen_key_unicode(s, 0, 0x65e5);               /* 日 */
	screen_key_unicode(s, 0, 0xd83d);               /* U+1F600 */
	screen_key_unicode(s, 0, 0xde00);
	screen_key_unicode(s, 0, 0xde00);               /* lone low: dropped */
	screen_key_unicode(s, 0, 0xd83d);               /* lone high, then 'b' */
	screen_key_unicode(s, 0, 'b');
	n = screen_take_output(s, buf, sizeof(buf));
	assert_int_equal(n, 1 + 2 + 3 + 4 + 1);
	assert_memory_equal(buf, "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80" "b", n);
	screen_free(s);
}

static void
test_output_bounded(void **state)
{
	struct screen *s = new_screen(NULL);
	size_t i;

	(void)state;
	/* Nobody reads: the output buffer holds SCREEN_OUTPUT_MAX_BYTES. */
	for (i = 0; i < SCREEN_OUTPUT_MAX_BYTES + 100; i++)
		screen_key_unicode(s, 0, 'q');
	assert_int_equal(screen_output_pending(s), SCREEN_OUTPUT_MAX_BYTES);
	for (i = 0; i < 1000; i++)
		screen_write(s, "\e[6n", 4);
	assert_int_equal(screen_output_pending(s), SCREEN_OUTPUT_MAX_BYTES);
	{
		uint64_t out, csi;

		screen_dropped(s, &out, &csi);
		assert_int_equal(out, 100 + 1000 * 6);   /* 'q' x 100, then "\e[1;1R" x 1000 */
		assert_int_equal(csi, 0);
	}
	screen_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_us_letters),
		cmocka_unit_test(test_ctrl_alt),
		cmocka_unit_test(test_special_keys),
		cmocka_unit_test(test_keypad),
		cmocka_unit_test(test_german),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_output_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
