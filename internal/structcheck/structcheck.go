// Package structcheck applies go-playground/validator `validate` struct tags
// to decoded payloads, naming fields by their JSON names.
package structcheck

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"

	"github.com/hookwise/hookwise/internal/textcut"
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

// maxReason bounds the strings Reason and DecodeReason return.
const maxReason = 512

// Reason describes an error of Check by the fields (JSON names) and rules
// that failed, "field 'data.email' failed the 'email' rule", never by their
// values, which may be personal data or secrets.
func Reason(err error) string {
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		// InvalidValidationError: a misuse (nil, not a struct), type names only.
		return clip(err.Error())
	}
	var b strings.Builder
	for i, fe := range verrs {
		if i > 0 {
			b.WriteString("; ")
		}
		if b.Len() > maxReason {
			break
		}
		field := fe.Namespace()
		if _, rest, ok := strings.Cut(field, "."); ok {
			field = rest // drop the root type's name
		}
		b.WriteString("field ")
		b.WriteString(strconv.Quote(field))
		b.WriteString(" failed the ")
		b.WriteString(strconv.Quote(fe.Tag()))
		b.WriteString(" rule") // fe.Value() is never written
	}
	return clip(b.String())
}

// DecodeReason describes an error of json.Unmarshal into a handler's type
// without quoting the payload: encoding/json's own messages quote numbers
// ("cannot unmarshal number 4111111111111111"), and the UnmarshalJSON
// methods of field types their input (time.Time: `parsing time "…"`).
func DecodeReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ") // "number 42" → "number"
		typ := "?"
		if te.Type != nil {
			typ = te.Type.String()
		}
		if te.Field == "" {
			return clip("expected " + typ + ", got " + got)
		}
		return clip("field " + strconv.Quote(te.Field) + ": expected " + typ + ", got " + got)
	case errors.As(err, &se):
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	}
	return "a value does not decode into its field's type"
}

func clip(s string) string { return textcut.Cut(s, maxReason) }
