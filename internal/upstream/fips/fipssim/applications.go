package fipssim

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listKinds are the filters of the application list.
func listKinds() []string { return []string{"All", "HasUnreadDoc", "HasUnregisteredDoc", "Trusted"} }

// sortKeys maps a sortField (matched case-insensitively) to its comparison.
// CreationDate, RegistrationDate, RegistrationNumber and IncomingNumber are
// the columns of FIPS's web list; "created" is the contract's example.
func sortKeys() map[string]func(a, b *application) int {
	created := func(a, b *application) int { return a.created.Compare(b.created) }
	return map[string]func(a, b *application) int{
		"created":            created,
		"creationdate":       created,
		"updated":            func(a, b *application) int { return a.updated.Compare(b.updated) },
		"registrationdate":   func(a, b *application) int { return a.regDate.Compare(b.regDate) },
		"registrationnumber": func(a, b *application) int { return strings.Compare(a.regNum, b.regNum) },
		"incomingnumber":     func(a, b *application) int { return strings.Compare(a.incoming, b.incoming) },
		"title":              func(a, b *application) int { return strings.Compare(a.title, b.title) },
		"type":               func(a, b *application) int { return strings.Compare(a.typ, b.typ) },
		"status":             func(a, b *application) int { return strings.Compare(a.status, b.status) },
	}
}

func (s *Server) listApplications(w http.ResponseWriter, r *http.Request, c *account) error {
	q := r.URL.Query()
	kind := "All"
	if v := q.Get("kind"); v != "" {
		i := slices.IndexFunc(listKinds(), func(k string) bool { return strings.EqualFold(k, v) })
		if i < 0 {
			return errFLK(fieldError{"FLK_ENUM", "kind", "Допустимые значения: All, HasUnreadDoc, HasUnregisteredDoc, Trusted"})
		}
		kind = listKinds()[i]
	}
	field := "created"
	if v := q.Get("sortField"); v != "" {
		field = strings.ToLower(v)
	}
	less, ok := sortKeys()[field]
	if !ok {
		return errFLK(fieldError{"FLK_ENUM", "sortField", "Неизвестное поле сортировки"})
	}
	descend := false
	if v := q.Get("sortDescend"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errFLK(fieldError{"FLK_FORMAT", "sortDescend", "Ожидается true или false"})
		}
		descend = b
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*application
	for _, a := range s.st.apps {
		own := a.owner == c.key
		if !own && !c.trustFor[a.owner] {
			continue
		}
		n := a.counts()
		// «На подписании» (Trusted), as the document names the filter, is
		// taken here as drafts of other accounts shared with this one (sent
		// to it to sign); the document says no more.
		switch {
		case kind == "Trusted" && (own || a.status != statusDraft),
			kind == "HasUnreadDoc" && n.Unread == 0,
			kind == "HasUnregisteredDoc" && n.Unregistered == 0:
			continue
		}
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b *application) int {
		n := cmp.Or(less(a, b), cmp.Compare(len(a.id), len(b.id)), strings.Compare(a.id, b.id))
		if descend {
			return -n
		}
		return n
	})
	out := make([]applicationView, 0, len(list))
	for _, a := range list {
		out = append(out, a.view(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// applicationInput is the body of create and update; absent fields are kept.
type applicationInput struct {
	Type     *string `json:"type"`
	Category *string `json:"category"`
	Title    *string `json:"title"`
}

// check runs the ФЛК of the attributes; create requires type and category.
func (in applicationInput) check(create bool) []fieldError {
	var errs []fieldError
	switch {
	case in.Type == nil && create:
		errs = append(errs, fieldError{"FLK_REQUIRED", "type", "Не указан тип заявки"})
	case in.Type != nil && appTypes()[*in.Type] == nil:
		errs = append(errs, fieldError{"FLK_ENUM", "type", "Неизвестный тип заявки: допустимы TMApplication, AOApplication, GeoIndication, Invention, UsefulModel"})
	}
	switch {
	case in.Category == nil && create:
		errs = append(errs, fieldError{"FLK_REQUIRED", "category", "Не указана категория заявителя"})
	case in.Category != nil && !knownCategory(*in.Category):
		errs = append(errs, fieldError{"FLK_DICTIONARY", "category", "Категория заявителя не найдена в справочнике: укажите полный путь категории"})
	}
	if in.Title != nil && len([]rune(*in.Title)) > 2000 {
		errs = append(errs, fieldError{"FLK_LENGTH", "title", "Название длиннее 2000 символов"})
	}
	return errs
}

func (s *Server) createApplication(w http.ResponseWriter, r *http.Request, c *account) error {
	var in applicationInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if errs := in.check(true); len(errs) > 0 {
		return errFLK(errs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addApplication(c, *in.Type, *in.Category, deref(in.Title), s.now())
	created(w, s.appPath(a), a.view(c))
	return nil
}

// addApplication stores a new draft owned by c.
func (s *Server) addApplication(c *account, typ, cat, title string, now time.Time) *application {
	a := &application{
		id: s.st.newID(), typ: typ, category: cat, title: title, status: statusDraft,
		owner: c.key, ownerName: c.name, created: now, updated: now,
	}
	s.st.apps[a.id] = a
	return a
}

func (s *Server) getApplication(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.view(c))
	return nil
}

func (s *Server) updateApplication(w http.ResponseWriter, r *http.Request, c *account) error {
	var in applicationInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if a.status != statusDraft {
		return newError(http.StatusConflict, "Заявка отправлена на регистрацию, её атрибуты изменить нельзя")
	}
	if errs := in.check(false); len(errs) > 0 {
		return errFLK(errs...)
	}
	if in.Type != nil && *in.Type != a.typ {
		for _, d := range a.docs {
			if d.structured {
				return errFLK(fieldError{"FLK_CONSISTENCY", "type", "Тип заявки не соответствует её заявлению: удалите заявление"})
			}
		}
		a.typ = *in.Type
	}
	if in.Category != nil {
		a.category = *in.Category
	}
	if in.Title != nil {
		a.title = *in.Title
	}
	a.updated = s.now()
	writeJSON(w, http.StatusOK, a.view(c))
	return nil
}

func (s *Server) deleteApplication(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if a.status != statusDraft {
		return newError(http.StatusConflict, "Заявка отправлена на регистрацию, удалить её нельзя")
	}
	delete(s.st.apps, a.id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
