package ssmparam

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Layout says how a state is laid out over SSM parameters, for inspection
// (`ssmstate show`, rotation and replication checks). It holds no value.
type Layout struct {
	// Parameter is the main parameter's name.
	Parameter string
	// Format is "absent" (no state stored), "single" (the whole state in the
	// main parameter, in Tailscale's awsstore format) or "multi-part" (the
	// main parameter holds a manifest naming Parts).
	Format string
	// Generation is the manifest's generation (multi-part only).
	Generation uint64
	// Parts are the names of the current generation's part parameters, in
	// order (multi-part only).
	Parts []string
	// Advanced says the parts are Advanced parameters.
	Advanced bool
	// Size is the encoded state's size in bytes (Tailscale-format JSON);
	// StoredSize the compressed bytes the parts carry (multi-part only).
	Size, StoredSize int64
	// Moving names the side parameter when a move (delete and recreate of
	// the main parameter) was cut short and it holds the state.
	Moving string
}

// Names returns every parameter holding the state: the main one (or the
// side one while moving) and the parts.
func (l *Layout) Names() []string {
	var names []string
	switch {
	case l.Format == "absent" && l.Moving == "":
	case l.Moving != "":
		names = append(names, l.Moving)
	default:
		names = append(names, l.Parameter)
	}
	return append(names, l.Parts...)
}

// Inspect reads the main parameter (decrypted, to tell a manifest from a
// state) and reports the layout. It does not fetch the parts and never
// returns values.
func Inspect(ctx context.Context, c Client, name string) (*Layout, error) {
	b := &Backend{c: Config{Client: c, ParameterName: name}, name: name}
	main, side, err := b.getMain(ctx)
	if err != nil {
		return nil, err
	}
	l := &Layout{Parameter: name, Format: "absent"}
	src := main
	if src == nil && side != nil {
		src, l.Moving = side, sideName(name)
	}
	if src == nil {
		return l, nil
	}
	value := []byte(aws.ToString(src.Value))
	if !isManifest(value) {
		l.Format, l.Size = "single", int64(len(value))
		return l, nil
	}
	m, err := parseManifest(value)
	if err != nil {
		return nil, fmt.Errorf("SSM parameter %s: %w", aws.ToString(src.Name), err)
	}
	l.Format, l.Generation, l.Advanced = "multi-part", m.Generation, m.Advanced
	l.Size, l.StoredSize = m.Size, m.StoredSize
	for i := range m.Parts {
		l.Parts = append(l.Parts, partName(name, m.Generation, i))
	}
	return l, nil
}

// PartPrefix is the prefix every part parameter of the state whose main
// parameter is name begins with, current or superseded.
func PartPrefix(name string) string { return name + ".part-" }
