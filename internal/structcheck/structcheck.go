// Package structcheck applies go-playground/validator `validate` struct tags
// to decoded payloads, naming fields by their JSON names.
package structcheck

import (
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

var structValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	return v
})

// Check runs the validator on v when it is a struct or a non-nil pointer to
// one, and returns its error (validator.ValidationErrors when a tag fails).
// Other values pass.
func Check(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	return structValidator().Struct(rv.Interface())
}
