package fipssim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is an error answer: {"message": ..., "errors": [...]} with a status.
type apiError struct {
	Status  int          `json:"-"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

func (e *apiError) Error() string { return "fipssim: " + strconv.Itoa(e.Status) + " " + e.Message }

// fieldError is one finding of the format-logical check (ФЛК).
type fieldError struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func newError(status int, msg string, errs ...fieldError) *apiError {
	return &apiError{Status: status, Message: msg, Errors: errs}
}

func errUnauthorized() *apiError {
	return newError(http.StatusUnauthorized, "Ключ авторизации не указан или срок его действия истёк")
}

func errForbidden() *apiError {
	return newError(http.StatusForbidden, "Доступ к заявке есть только у автора или доверенного лица")
}

// errFLK is a 400 with the findings of the format-logical check.
func errFLK(errs ...fieldError) *apiError {
	return newError(http.StatusBadRequest, "Форматно-логический контроль не пройден", errs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if _, ok := w.(*dotNetWriter); ok {
		v = dotNet(v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = newError(http.StatusInternalServerError, "Внутренняя ошибка сервера")
	}
	writeJSON(w, e.Status, e)
}

// maxJSONBody bounds JSON request bodies (a batch of CMS signatures fits).
const maxJSONBody = 4 << 20

// decodeJSON reads a JSON object body into v. Field names match
// case-insensitively, as in the upstream ("TypeTitle" or "typeTitle"). A
// body of another media type than the route's (default application/json)
// is refused with 415.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r, cmp.Or(routeOf(r).ContentType, "application/json")); err != nil {
		return err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err == nil {
		err = json.NewDecoder(renamingOf(r).reader(raw)).Decode(v)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, "Слишком большой запрос")
		}
		if errors.Is(err, io.EOF) {
			return newError(http.StatusBadRequest, "Пустое тело запроса, ожидается JSON")
		}
		return newError(http.StatusBadRequest, "Некорректный JSON в теле запроса")
	}
	return nil
}

// checkContentType refuses a request whose Content-Type names another
// media type than want (a request without one is taken as it is).
func checkContentType(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	got, _, err := mime.ParseMediaType(ct)
	wantType, _, _ := mime.ParseMediaType(want)
	if err != nil || !strings.EqualFold(got, wantType) {
		return newError(http.StatusUnsupportedMediaType, "Неподдерживаемый тип содержимого "+ct+": ожидается "+wantType)
	}
	return nil
}

// created answers 201 with Location and the JSON body.
func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}

// dotNetWriter marks an answer to be written as an ASP.NET service would
// (Config.DotNetValues).
type dotNetWriter struct{ http.ResponseWriter }

// dotNet rewrites v's JSON: ids ("id" and members ending in "Id") made of
// digits become numbers, timestamps lose their zone (Moscow time).
func dotNet(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return v
	}
	return dotNetValue(x, "")
}

func dotNetValue(x any, key string) any {
	switch t := x.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = dotNetValue(e, k)
		}
	case []any:
		for i, e := range t {
			t[i] = dotNetValue(e, "")
		}
	case string:
		if (key == "id" || strings.HasSuffix(key, "Id")) && t != "" && strings.Trim(t, "0123456789") == "" {
			return json.Number(t)
		}
		if len(t) >= 20 && t[10] == 'T' {
			if tm, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return tm.In(moscow).Format("2006-01-02T15:04:05.999")
			}
		}
	}
	return x
}

// moscow is the simulator's (and FIPS's) time zone.
var moscow = time.FixedZone("MSK", 3*60*60)
