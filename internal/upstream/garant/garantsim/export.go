package garantsim

import (
	"hash/crc32"
	"net/http"
	"strconv"
)

// plainParagraphs is the document as plain text: name, then every block's
// title and paragraphs.
func (c *corpus) plainParagraphs(d *document) []string {
	out := []string{d.name}
	for _, e := range d.entries {
		if e.title != "" {
			out = append(out, e.title)
		}
		for _, p := range e.paras {
			out = append(out, p.plainText(c))
		}
	}
	return out
}

// downloadRTF answers GET /v2/topic/{topic}/download.
func (s *Server) downloadRTF(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	writeFile(w, "application/rtf", itoa(d.topic)+".rtf", rtfFile(d.name, s.corpus.plainParagraphs(d)))
	return nil
}

// downloadODT answers GET /v2/topic/{topic}/download-odt.
func (s *Server) downloadODT(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	b, err := odtFile(d.name, s.corpus.plainParagraphs(d))
	if err != nil {
		return err
	}
	writeFile(w, odtMime, itoa(d.topic)+".odt", b)
	return nil
}

// downloadPDF answers GET /v2/topic/{topic}/download-pdf.
func (s *Server) downloadPDF(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	writeFile(w, "application/pdf", itoa(d.topic)+".pdf", pdfFile(d.name, s.corpus.plainParagraphs(d)))
	return nil
}

// image answers GET /v2/image/{object_id}.
func (s *Server) image(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.Atoi(r.PathValue("object_id"))
	if err != nil || id <= 0 {
		return badRequest("object_id must be a positive integer")
	}
	img, ok := s.corpus.images[id]
	if !ok {
		return notFound("image %d not found", id)
	}
	b, err := pngFile(img.width, img.height, uint32(id))
	if err != nil {
		return err
	}
	writeFile(w, "image/png", "", b)
	return nil
}

// formula answers GET /v2/formula?text=CODE&fmt=png. The code must be
// passed verbatim, as found in a /document/formula link.
func (s *Server) formula(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	code, format := q.Get("text"), q.Get("fmt")
	switch {
	case code == "":
		return badRequest("text is required")
	case format == "":
		return badRequest("fmt is required")
	case format != "png":
		return badRequest("unsupported fmt %q: png only", format)
	}
	text, ok := s.corpus.formulas[code]
	if !ok {
		return notFound("formula not found")
	}
	b, err := pngFile(12*len([]rune(text)), 21, crc32.ChecksumIEEE([]byte(code)))
	if err != nil {
		return err
	}
	writeFile(w, "image/png", "", b)
	return nil
}
