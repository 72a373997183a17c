package ssmparam

import (
	"encoding/json"

	"github.com/ssmstate/ssmstate/store"
)

var (
	errCorrupt  = store.ErrCorrupt
	errConflict = store.ErrConflict
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
