package fipssim

import (
	"net/http"
	"slices"
	"time"
)

// documentInput is the body of document create and update.
type documentInput struct {
	Type        *string `json:"type"`
	TypeTitle   *string `json:"TypeTitle"`
	FileName    *string `json:"fileName"`
	Description *string `json:"description"`
	PageCount   *int    `json:"pageCount"`
}

func (in documentInput) checkAttrs() []fieldError {
	var errs []fieldError
	if in.PageCount != nil && *in.PageCount < 0 {
		errs = append(errs, fieldError{"FLK_RANGE", "pageCount", "Количество листов не может быть отрицательным"})
	}
	if in.FileName != nil && len([]rune(*in.FileName)) > 255 {
		errs = append(errs, fieldError{"FLK_LENGTH", "fileName", "Имя файла длиннее 255 символов"})
	}
	return errs
}

func (in documentInput) apply(d *document) {
	if in.FileName != nil {
		d.fileName = *in.FileName
	}
	if in.Description != nil {
		d.descr = *in.Description
	}
	if in.PageCount != nil {
		d.pageCount = *in.PageCount
	}
}

func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]documentView, 0, len(a.docs))
	for _, d := range a.docs {
		out = append(out, d.view())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createDocument(w http.ResponseWriter, r *http.Request, c *account) error {
	var in documentInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if deref(in.Type) == "" && deref(in.TypeTitle) == "" {
		return errFLK(fieldError{"FLK_REQUIRED", "type", "Укажите код типа документа (type) или его название (TypeTitle)"})
	}
	t, ok := findTemplate(deref(in.Type), deref(in.TypeTitle))
	if !ok {
		return errFLK(fieldError{"FLK_DICTIONARY", "type", "Тип документа не найден в справочнике шаблонов документов"})
	}
	if errs := in.checkAttrs(); len(errs) > 0 {
		return errFLK(errs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if t.structured {
		if !slices.Contains(appTypes()[a.typ], t.Code) {
			return errFLK(fieldError{"FLK_CONSISTENCY", "type", "Заявление " + t.Code + " не соответствует типу заявки " + a.typ})
		}
		if a.status != statusDraft {
			return newError(http.StatusConflict, "Заявка отправлена на регистрацию, добавить заявление нельзя")
		}
		if slices.ContainsFunc(a.docs, func(d *document) bool { return d.structured }) {
			return errFLK(fieldError{"FLK_DUPLICATE", "type", "В заявке уже есть заявление"})
		}
	}
	d := s.addDocument(a, t, s.now())
	in.apply(d)
	created(w, s.docPath(a, d), d.view())
	return nil
}

// addDocument appends an empty outgoing document of type t to a.
func (s *Server) addDocument(a *application, t template, now time.Time) *document {
	d := &document{
		id: s.st.newID(), code: t.Code, title: t.Name, structured: t.structured,
		created: now, updated: now,
	}
	if d.structured {
		d.flk = flkNone
	}
	a.docs = append(a.docs, d)
	a.updated = now
	return d
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	d.read = true
	writeJSON(w, http.StatusOK, d.view())
	return nil
}

func (s *Server) updateDocument(w http.ResponseWriter, r *http.Request, c *account) error {
	var in documentInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	if d.regNum != "" {
		return errRegisteredDoc()
	}
	errs := in.checkAttrs()
	if (in.Type != nil && *in.Type != d.code) || (in.TypeTitle != nil && *in.TypeTitle != d.title) {
		errs = append(errs, fieldError{"FLK_READONLY", "type", "Тип документа изменить нельзя: создайте новый документ"})
	}
	if len(errs) > 0 {
		return errFLK(errs...)
	}
	in.apply(d)
	d.updated = s.now()
	writeJSON(w, http.StatusOK, d.view())
	return nil
}

func (s *Server) deleteDocument(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	if d.regNum != "" {
		return errRegisteredDoc()
	}
	a.docs = slices.DeleteFunc(a.docs, func(x *document) bool { return x == d })
	a.updated = s.now()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
