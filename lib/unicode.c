// SPDX-License-Identifier: MIT
/* unicode.c - code points a reader cannot see (unicode.h). */
#include "unicode.h"

#include <stddef.h>

#include "util.h"

/* Characters that end a line for some readers (U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR;
 * Python's splitlines() splits at them) or that reorder or hide text on a terminal or in a viewer
 * without being seen themselves: every format character of Unicode (general category Cf: the
 * zero-width ones, the bidirectional marks, embeddings, overrides and isolates, the invisible
 * operators, the byte order mark, the tag characters that can spell hidden ASCII, the
 * interlinear annotation marks), the variation selectors, the fillers and blanks that render as
 * nothing, and every space but U+0020 (one cannot tell them from it).
 * A skill could otherwise make its line look like another one, or like two, or carry hidden text. */
static const struct { uint32_t first, last; } invisible_ranges[] = {
	{ 0x00a0, 0x00a0 },   /* NO-BREAK SPACE */
	{ 0x00ad, 0x00ad },   /* SOFT HYPHEN */
	{ 0x034f, 0x034f },   /* COMBINING GRAPHEME JOINER */
	{ 0x0600, 0x0605 },   /* Arabic number signs */
	{ 0x061c, 0x061c },   /* ARABIC LETTER MARK */
	{ 0x06dd, 0x06dd },   /* ARABIC END OF AYAH */
	{ 0x070f, 0x070f },   /* SYRIAC ABBREVIATION MARK */
	{ 0x0890, 0x0891 },   /* Arabic pound and piastre marks above */
	{ 0x08e2, 0x08e2 },   /* ARABIC DISPUTED END OF AYAH */
	{ 0x115f, 0x1160 },   /* HANGUL CHOSEONG and JUNGSEONG FILLER */
	{ 0x1680, 0x1680 },   /* OGHAM SPACE MARK */
	{ 0x17b4, 0x17b5 },   /* KHMER VOWEL INHERENT AQ, AA */
	{ 0x180b, 0x180f },   /* Mongolian free variation selectors, VOWEL SEPARATOR */
	{ 0x2000, 0x200f },   /* EN QUAD .. HAIR SPACE, ZWSP, ZWNJ, ZWJ, LRM, RLM */
	{ 0x2028, 0x202f },   /* LS, PS, LRE, RLE, PDF, LRO, RLO, NARROW NO-BREAK SPACE */
	{ 0x205f, 0x205f },   /* MEDIUM MATHEMATICAL SPACE */
	{ 0x2060, 0x206f },   /* WJ, invisible operators, LRI, RLI, FSI, PDI, deprecated format controls */
	{ 0x2800, 0x2800 },   /* BRAILLE PATTERN BLANK */
	{ 0x3000, 0x3000 },   /* IDEOGRAPHIC SPACE */
	{ 0x3164, 0x3164 },   /* HANGUL FILLER */
	{ 0xfe00, 0xfe0f },   /* VARIATION SELECTOR-1..16 */
	{ 0xfeff, 0xfeff },   /* ZERO WIDTH NO-BREAK SPACE (BOM) */
	{ 0xffa0, 0xffa0 },   /* HALFWIDTH HANGUL FILLER */
	{ 0xfff9, 0xfffb },   /* interlinear annotation anchor, separator, terminator */
	{ 0x110bd, 0x110bd }, /* KAITHI NUMBER SIGN */
	{ 0x110cd, 0x110cd }, /* KAITHI NUMBER SIGN ABOVE */
	{ 0x13430, 0x1343f }, /* Egyptian hieroglyph format controls */
	{ 0x1bca0, 0x1bca3 }, /* shorthand format controls */
	{ 0x1d159, 0x1d159 }, /* MUSICAL SYMBOL NULL NOTEHEAD */
	{ 0x1d173, 0x1d17a }, /* musical symbol format controls */
	{ 0xe0000, 0xe0fff }, /* tags, variation selectors 17-256, and the rest of that block */
};

bool unicode_is_invisible(uint32_t cp)
{
	for (size_t i = 0; i < ARRAY_SIZE(invisible_ranges); i++)
		if (cp >= invisible_ranges[i].first && cp <= invisible_ranges[i].last)
			return true;
	return false;
}
