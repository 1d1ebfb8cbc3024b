package redisq

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// encodeV1 returns the stream fields of e as XADD arguments (field, value, ...)
// in format 1, the format of earlier releases, which decode still reads.
// Payload is not stored: the processor derives it again from Body.
func encodeV1(e *driver.Event) ([]any, error) {
	header := []byte("{}")
	var headerBytes []byte
	if len(e.Header) > 0 {
		var err error
		if headerUTF8(e.Header) {
			header, err = json.Marshal(e.Header)
		} else {
			headerBytes, err = json.Marshal(headerAsBytes(e.Header))
		}
		if err != nil {
			return nil, fmt.Errorf("redisq: encode header: %w", err)
		}
	}
	attempt := e.Attempt
	if attempt < 1 {
		attempt = 1
	}
	receivedAt := ""
	if !e.ReceivedAt.IsZero() {
		receivedAt = e.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	fields := []any{
		fieldVersion, formatVersion,
		fieldProvider, e.Provider,
		fieldID, e.ID,
		fieldType, e.Type,
		fieldPayloadVer, e.Version,
		fieldReceivedAt, receivedAt,
		fieldHeader, header,
		fieldBody, e.Body,
		fieldAttempt, strconv.Itoa(attempt),
		fieldToken, e.ClaimToken,
	}
	if headerBytes != nil {
		fields = append(fields, fieldHeaderBytes, headerBytes)
	}
	if e.Target != "" {
		fields = append(fields, fieldTarget, e.Target)
	}
	if len(e.Meta) > 0 {
		name, v := fieldMeta, any(e.Meta)
		if !metaUTF8(e.Meta) {
			name, v = fieldMetaBytes, metaAsBytes(e.Meta)
		}
		meta, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("redisq: encode meta: %w", err)
		}
		fields = append(fields, name, meta)
	}
	return fields, nil
}
