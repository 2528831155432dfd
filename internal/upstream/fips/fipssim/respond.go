package fipssim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
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
// case-insensitively, as in the upstream ("TypeTitle" or "typeTitle").
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	if err := json.NewDecoder(body).Decode(v); err != nil {
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

// created answers 201 with Location and the JSON body.
func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}
