package ssmparam

import (
	"encoding/json"
	"errors"
)

// TODO(wiring): these become store.ErrCorrupt and store.ErrConflict once
// the store core defines them.
var (
	errCorrupt  = errors.New("state content does not decode")
	errConflict = errors.New("state changed by another writer")
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
