package fipssim

import (
	"cmp"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
)

// MaxFileSize is the largest document content accepted (20 MiB); more is 413.
const MaxFileSize = 20 << 20

// multipartSlack is what a multipart body may carry beyond its file part.
const multipartSlack = 1 << 20

// filePart is the part named "file" of a multipart/form-data request.
type filePart struct {
	data        []byte
	contentType string
	fileName    string
}

// readFilePart reads the content of r into memory, refusing more than
// MaxFileSize bytes with 413: the part named by the route (default "file")
// of a multipart/form-data body, or with a route of another content type
// the whole body of that type; anything else is 415.
func readFilePart(w http.ResponseWriter, r *http.Request) (filePart, error) {
	rt := routeOf(r)
	want := cmp.Or(rt.ContentType, "multipart/form-data")
	if wt, _, _ := mime.ParseMediaType(want); wt != "multipart/form-data" {
		return readRawBody(w, r, want)
	}
	name := cmp.Or(rt.Part, "file")
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return filePart{}, newError(http.StatusUnsupportedMediaType, "Содержимое передаётся как multipart/form-data")
	}
	if params["boundary"] == "" {
		return filePart{}, newError(http.StatusBadRequest, "Не указана граница multipart (boundary)")
	}
	tooLarge := newError(http.StatusRequestEntityTooLarge, "Размер файла превышает 20 МБ")
	if r.ContentLength > MaxFileSize+multipartSlack {
		return filePart{}, tooLarge
	}
	body := http.MaxBytesReader(w, r.Body, MaxFileSize+multipartSlack)
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return filePart{}, errFLK(fieldError{"FLK_REQUIRED", name, "В запросе нет части multipart с именем " + name})
		case errors.As(err, &mbe):
			return filePart{}, tooLarge
		case err != nil:
			return filePart{}, newError(http.StatusBadRequest, "Некорректное тело multipart/form-data")
		}
		if p.FormName() != name {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, MaxFileSize+1))
		if errors.As(err, &mbe) || len(data) > MaxFileSize {
			_, _ = io.Copy(io.Discard, body) // let the client finish sending, then answer
			return filePart{}, tooLarge
		}
		if err != nil {
			return filePart{}, newError(http.StatusBadRequest, "Некорректное тело multipart/form-data")
		}
		if len(data) == 0 {
			return filePart{}, errFLK(fieldError{"FLK_REQUIRED", name, "Файл пуст"})
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		return filePart{data: data, contentType: ct, fileName: p.FileName()}, nil
	}
}

// readRawBody reads a body sent alone, of media type want.
func readRawBody(w http.ResponseWriter, r *http.Request, want string) (filePart, error) {
	if r.Header.Get("Content-Type") == "" {
		return filePart{}, newError(http.StatusUnsupportedMediaType, "Не указан тип содержимого: ожидается "+want)
	}
	if err := checkContentType(r, want); err != nil {
		return filePart{}, err
	}
	if r.ContentLength > MaxFileSize {
		return filePart{}, newError(http.StatusRequestEntityTooLarge, "Размер файла превышает 20 МБ")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFileSize))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return filePart{}, newError(http.StatusRequestEntityTooLarge, "Размер файла превышает 20 МБ")
	case err != nil:
		return filePart{}, newError(http.StatusBadRequest, "Тело запроса прочитать не удалось")
	case len(data) == 0:
		return filePart{}, errFLK(fieldError{"FLK_REQUIRED", "body", "Файл пуст"})
	}
	fileName := ""
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
		fileName = params["filename"]
	}
	return filePart{data: data, contentType: r.Header.Get("Content-Type"), fileName: fileName}, nil
}

// writable checks that d may take new content of the given kind.
func writable(d *document, structured bool) error {
	switch {
	case d.regNum != "":
		return errRegisteredDoc()
	case d.structured && !structured:
		return newError(http.StatusBadRequest, "Содержимое структурированного документа передаётся методом statement")
	case !d.structured && structured:
		return newError(http.StatusBadRequest, "Документ не является структурированным (заявлением)")
	}
	return nil
}

// receive checks access, reads the file part outside the lock, then stores it
// with store under the lock (the document is looked up again).
func (s *Server) receive(w http.ResponseWriter, r *http.Request, c *account, structured bool, store func(d *document, p filePart) error) error {
	s.mu.Lock()
	_, d, err := s.findDoc(c, r)
	if err == nil {
		err = writable(d, structured)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	p, err := readFilePart(w, r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err = s.findDoc(c, r)
	if err == nil {
		err = writable(d, structured)
	}
	if err != nil {
		return err
	}
	return store(d, p)
}

func (s *Server) putFile(w http.ResponseWriter, r *http.Request, c *account) error {
	return s.receive(w, r, c, false, func(d *document, p filePart) error {
		d.setContent(p.data, p.contentType, s.now())
		if p.fileName != "" {
			d.fileName = p.fileName
		}
		writeJSON(w, http.StatusOK, d.view())
		return nil
	})
}

func (s *Server) putStatement(w http.ResponseWriter, r *http.Request, c *account) error {
	return s.receive(w, r, c, true, func(d *document, p filePart) error {
		d.setContent(p.data, "application/xml", s.now())
		if p.fileName != "" {
			d.fileName = p.fileName
		}
		d.flk, d.flkErrors = flkPassed, checkStatement(d.code, p.data)
		if len(d.flkErrors) > 0 {
			d.flk = flkFailed
			return errFLK(d.flkErrors...)
		}
		writeJSON(w, http.StatusOK, d.view())
		return nil
	})
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	_, d, err := s.findDoc(c, r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	switch {
	case d.structured && d.flk != flkPassed:
		s.mu.Unlock()
		return newError(http.StatusConflict, "Содержимое заявления доступно только после успешного прохождения ФЛК")
	case len(d.content) == 0:
		s.mu.Unlock()
		return newError(http.StatusNotFound, "Содержимое документа отсутствует")
	}
	d.read = true
	data, ct, name := d.content, d.contentType, d.fileName
	s.mu.Unlock()
	writeContent(w, data, ct, name)
	return nil
}

func (s *Server) getStatement(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	_, d, err := s.findDoc(c, r)
	switch {
	case err != nil:
	case !d.structured:
		err = newError(http.StatusBadRequest, "Документ не является структурированным (заявлением)")
	case len(d.content) == 0:
		err = newError(http.StatusNotFound, "Заявление ещё не заполнено")
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	data, name := d.content, d.fileName
	s.mu.Unlock()
	writeContent(w, data, "application/xml", name)
	return nil
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	if d.regNum != "" {
		return errRegisteredDoc()
	}
	d.setContent(nil, "", s.now())
	if d.structured {
		d.flk, d.flkErrors = flkNone, nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeContent answers the stored bytes verbatim with their type and length.
func writeContent(w http.ResponseWriter, data []byte, contentType, fileName string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if fileName != "" {
		if cd := mime.FormatMediaType("attachment", map[string]string{"filename": fileName}); cd != "" {
			h.Set("Content-Disposition", cd)
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
