package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ssmstate/ssmstate/locator"
)

// EncodeState encodes a state in Tailscale's tailscaled.state format, as
// its ipn/store FileStore writes it: a JSON object of base64 values,
// indented by two spaces ("{}" when empty is what awsstore writes; FileStore
// writes the same for an empty map).
func EncodeState(state map[string][]byte) ([]byte, error) {
	if len(state) == 0 {
		return []byte("{}"), nil
	}
	return json.MarshalIndent(state, "", "  ")
}

// DecodeState decodes Tailscale's tailscaled.state format.
func DecodeState(b []byte) (map[string][]byte, error) {
	var m map[string][]byte
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &Error{
			Cause: fmt.Sprintf("the input is not a Tailscale state (a JSON object of base64 values): %v", err),
			Fix:   "give a tailscaled.state file or the output of ssmstate export",
		}
	}
	if m == nil {
		m = map[string][]byte{}
	}
	return m, nil
}

// Export writes loc's whole state to w in Tailscale's tailscaled.state
// format and returns the number of keys. The output holds the secret
// values: write it only where the state itself may live.
func Export(ctx context.Context, loc string, w io.Writer, o Options) (int, error) {
	state, err := ReadAll(ctx, loc, o)
	if err != nil {
		return 0, err
	}
	b, err := EncodeState(state)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(b); err != nil {
		return 0, fmt.Errorf("write the export of %s: %w", loc, err)
	}
	return len(state), nil
}

// Import reads a Tailscale-format state from r and stores it at loc (see
// WriteAll for Force and verification). It returns the number of keys.
func Import(ctx context.Context, loc string, r io.Reader, o Options) (int, error) {
	if _, err := locator.Parse(loc); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, fmt.Errorf("read the state to import into %s: %w", loc, err)
	}
	state, err := DecodeState(b)
	if err != nil {
		return 0, err
	}
	if err := WriteAll(ctx, loc, state, o); err != nil {
		return 0, err
	}
	return len(state), nil
}

// MigrateResult reports a migration.
type MigrateResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	Keys int    `json:"keys"`
	// Bytes is the total size of the values.
	Bytes    int  `json:"bytes"`
	Verified bool `json:"verified"`
}

// Migrate copies the whole state from one locator to another (a
// tailscaled.state file, mem:, an SSM ARN — any pair), verifies the copy by
// reading it back and checks that the source is unchanged. The destination
// must be empty unless o.Force.
func Migrate(ctx context.Context, from, to string, o Options) (*MigrateResult, error) {
	fl, err := locator.Parse(from)
	if err != nil {
		return nil, err
	}
	tl, err := locator.Parse(to)
	if err != nil {
		return nil, err
	}
	if sameState(fl, tl) {
		return nil, &Error{
			Cause: fmt.Sprintf("%s and %s name the same state", from, to),
			Fix:   "give a different destination (to re-encrypt under another key, use ssmstate rotate)",
		}
	}
	state, err := ReadAll(ctx, from, o)
	if err != nil {
		return nil, err
	}
	if err := WriteAll(ctx, to, state, o); err != nil {
		return nil, err
	}
	if err := Verify(ctx, from, state, o); err != nil {
		return nil, fmt.Errorf("the source changed during the migration: %w", err)
	}
	res := &MigrateResult{From: from, To: to, Keys: len(state), Verified: true}
	for _, v := range state {
		res.Bytes += len(v)
	}
	return res, nil
}

// sameState reports whether two locators name the same stored state
// (whatever their options).
func sameState(a, b locator.Locator) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case locator.KindSSM:
		return a.ParameterARN() == b.ParameterARN()
	case locator.KindFile:
		return a.Path == b.Path
	case locator.KindMem:
		return a.MemName == b.MemName && a.MemName != ""
	}
	return false
}
