/* ocr_tess — the Tesseract backend of the redactor (libtesseract's C API).
 *
 * One TessBaseAPI per worker thread (the API is not thread-safe), LSTM
 * engine, languages eng+deu by default. Crops are prepared for Tesseract:
 * light text on a dark background is inverted, small text is scaled up 2x
 * (below 14 px crops, about 9 px fonts), and a white
 * margin is added; word boxes are mapped back to the crop's pixels. A crop
 * in which a word of 3 bytes or more came out under confidence 60 is read
 * again at twice the size, and the reading whose weakest word is surer wins
 * (small light-on-dark text in buttons and tabs).
 *
 * OpenMP inside Tesseract makes it several times slower on small machines:
 * run with OMP_THREAD_LIMIT=1 (libgomp reads it when it is loaded, so
 * lockstep's main() starts itself again with it set when it is not) and
 * parallelise with the redactor's own workers. */
#ifndef LS_OCR_TESS_H
#define LS_OCR_TESS_H

#include "ls_redact.h"

struct ls_tess_opts {
	const char *datapath; /**< tessdata directory, or NULL for the default */
	const char *langs;    /**< "eng+deu" when NULL */
};

/** A backend for ls_redact_params.ocr; @o is copied. Free with ls_tess_backend_free(). */
struct ls_redact_backend *ls_tess_backend_new(const struct ls_tess_opts *o);
void ls_tess_backend_free(struct ls_redact_backend **b);

/** Checks that Tesseract starts with the languages (for `lockstep check`).
 *  Returns 0 or < 0 with *err a g_malloc'd one-line reason. */
int ls_tess_probe(const struct ls_tess_opts *o, char **err);

/** Reads a whole grey image with automatic page segmentation: the naive
 *  baseline of the benchmarks. Returns the number of words, or < 0; with
 *  @out, the words too (boxes in the image, line = Tesseract's text line;
 *  free with ls_redact_ocr_clear()). */
int ls_tess_read_page(void *wctx, const uint8_t *gray, int w, int h, int stride, struct ls_redact_ocr *out);

#endif
