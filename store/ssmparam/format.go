package ssmparam

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Limits of the on-parameter format (docs/format.md).
const (
	// FormatVersion is the manifest format this package writes and reads.
	FormatVersion = 1

	// StandardValueLimit is the longest value of a Standard parameter
	// (4,096 characters). AWS counts characters; we count bytes, which is
	// never fewer, so a value we accept always fits.
	StandardValueLimit = 4096
	// AdvancedValueLimit is the longest value of an Advanced parameter.
	AdvancedValueLimit = 8192

	// standardChunk and advancedChunk are the compressed bytes one part
	// carries: base64 (4/3) plus the part header (at most partHeaderMax)
	// stays within the tier's value limit.
	standardChunk = 2976 // base64: 3,968 characters
	advancedChunk = 6048 // base64: 8,064 characters
	partHeaderMax = 120

	// MaxStateSize caps the decoded state (and so a decompression bomb).
	MaxStateSize = 16 << 20
	// maxParts caps the parts a manifest may name before anything is
	// fetched: a 16 MiB compressed blob in Standard parts.
	maxParts = (MaxStateSize + standardChunk - 1) / standardChunk

	manifestMagic = "ssmstate"
	partMagic     = "ssmstate-part"
	compression   = "zstd"
)

// encodeState encodes a state exactly as Tailscale's awsstore (through
// ipn/store/mem's ExportToJSON) does: "{}" when empty, otherwise indented
// JSON with base64 values.
func encodeState(state map[string][]byte) ([]byte, error) {
	if len(state) == 0 {
		return []byte("{}"), nil
	}
	return json.MarshalIndent(state, "", "  ")
}

// decodeState decodes a Tailscale-format state.
func decodeState(b []byte) (map[string][]byte, error) {
	var m map[string][]byte
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object of base64 values: %v", err)
	}
	if m == nil {
		m = map[string][]byte{}
	}
	return m, nil
}

// manifest is what the main parameter holds when the state does not fit in
// it. Part names are not listed: they are derived from the main parameter's
// name, the generation and the index (partName), so a manifest cannot point
// anywhere else.
type manifest struct {
	Format      int    `json:"ssmstate"`
	Generation  uint64 `json:"generation"`
	Compression string `json:"compression"`
	// Size and SHA256 describe the encoded state (Tailscale-format JSON).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// StoredSize and StoredSHA256 describe the compressed bytes that the
	// parts carry, concatenated in order.
	StoredSize   int64  `json:"storedSize"`
	StoredSHA256 string `json:"storedSha256"`
	// PartSize is the compressed bytes in every part but the last.
	PartSize int `json:"partSize"`
	Parts    int `json:"parts"`
	// Advanced says the parts are Advanced parameters.
	Advanced bool `json:"advanced,omitempty"`
}

// isManifest tells a manifest from a Tailscale-format state: a manifest has
// the key "ssmstate" holding a number, where a state would hold a base64
// string.
func isManifest(b []byte) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	v, ok := probe[manifestMagic]
	if !ok {
		return false
	}
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

func parseManifest(b []byte) (*manifest, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest does not decode: %v", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// check validates a manifest before any part is fetched.
func (m *manifest) check() error {
	switch {
	case m.Format != FormatVersion:
		return fmt.Errorf("manifest format %d is not supported (this build reads format %d; a newer ssmstate may have written it)", m.Format, FormatVersion)
	case m.Compression != compression:
		return fmt.Errorf("manifest names compression %q, want %q", m.Compression, compression)
	case m.Generation == 0:
		return fmt.Errorf("manifest generation is 0")
	case m.Size < 0 || m.Size > MaxStateSize:
		return fmt.Errorf("manifest says the state is %d bytes; the limit is %d", m.Size, MaxStateSize)
	case m.StoredSize <= 0 || m.StoredSize > MaxStateSize:
		return fmt.Errorf("manifest says the parts hold %d bytes; want 1 to %d", m.StoredSize, MaxStateSize)
	case m.Parts <= 0 || m.Parts > maxParts:
		return fmt.Errorf("manifest names %d parts; want 1 to %d", m.Parts, maxParts)
	case !validHash(m.SHA256) || !validHash(m.StoredSHA256):
		return fmt.Errorf("manifest checksums are not hex SHA-256 digests")
	}
	want := standardChunk
	if m.Advanced {
		want = advancedChunk
	}
	if m.PartSize != want {
		return fmt.Errorf("manifest part size %d, want %d", m.PartSize, want)
	}
	if n := (m.StoredSize + int64(m.PartSize) - 1) / int64(m.PartSize); n != int64(m.Parts) {
		return fmt.Errorf("manifest names %d parts for %d bytes in parts of %d; want %d", m.Parts, m.StoredSize, m.PartSize, n)
	}
	return nil
}

func validHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// partName is the name of part index of generation gen of the state whose
// main parameter is name. Parts are siblings of the main parameter, at the
// same hierarchy level, so a main name that is valid gives valid part names.
func partName(name string, gen uint64, index int) string {
	return name + ".part-" + strconv.FormatUint(gen, 10) + "-" + strconv.Itoa(index)
}

// sideName is the parameter that holds the main parameter's content while
// the main parameter is deleted and recreated (a change of type that SSM
// refuses in place).
func sideName(name string) string { return name + ".moving" }

// encoder is shared by every split: a zstd encoder allocates its tables
// (megabytes) when made, and EncodeAll is safe for concurrent use.
var encoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
})

// split compresses an encoded state into a manifest and part values.
func split(encoded []byte, gen uint64, advanced bool) (*manifest, []string, error) {
	enc, err := encoder()
	if err != nil {
		return nil, nil, err
	}
	blob := enc.EncodeAll(encoded, nil)
	chunk := standardChunk
	if advanced {
		chunk = advancedChunk
	}
	sum := sha256.Sum256(encoded)
	stored := sha256.Sum256(blob)
	m := &manifest{
		Format:       FormatVersion,
		Generation:   gen,
		Compression:  compression,
		Size:         int64(len(encoded)),
		SHA256:       hex.EncodeToString(sum[:]),
		StoredSize:   int64(len(blob)),
		StoredSHA256: hex.EncodeToString(stored[:]),
		PartSize:     chunk,
		Advanced:     advanced,
	}
	var parts []string
	for i := 0; len(blob) > 0; i++ {
		n := min(chunk, len(blob))
		parts = append(parts, encodePart(gen, i, blob[:n]))
		blob = blob[n:]
	}
	m.Parts = len(parts)
	if err := m.check(); err != nil {
		return nil, nil, fmt.Errorf("state of %d bytes cannot be stored: %w", len(encoded), err)
	}
	return m, parts, nil
}

// encodePart makes a part's value: "ssmstate-part:<gen>:<index>:<sha256 of
// chunk>:<base64 chunk>". The header lets a reader say exactly which part
// is wrong, and rejects a part of another generation or position.
func encodePart(gen uint64, index int, chunk []byte) string {
	sum := sha256.Sum256(chunk)
	return partMagic + ":" + strconv.FormatUint(gen, 10) + ":" + strconv.Itoa(index) + ":" +
		hex.EncodeToString(sum[:]) + ":" + base64.StdEncoding.EncodeToString(chunk)
}

// decodePart checks a part's value against the manifest and returns its
// compressed bytes.
func decodePart(m *manifest, index int, value string) ([]byte, error) {
	limit := StandardValueLimit
	if m.Advanced {
		limit = AdvancedValueLimit
	}
	if len(value) > limit {
		return nil, fmt.Errorf("part %d is %d characters, more than a part may hold (%d)", index, len(value), limit)
	}
	fields := strings.SplitN(value, ":", 5)
	if len(fields) != 5 || fields[0] != partMagic {
		return nil, fmt.Errorf("part %d does not start with the %q header", index, partMagic)
	}
	if fields[1] != strconv.FormatUint(m.Generation, 10) || fields[2] != strconv.Itoa(index) {
		return nil, fmt.Errorf("part %d says it is part %s of generation %s; the manifest wants part %d of generation %d", index, fields[2], fields[1], index, m.Generation)
	}
	chunk, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil {
		return nil, fmt.Errorf("part %d is not base64: %v", index, err)
	}
	sum := sha256.Sum256(chunk)
	if hex.EncodeToString(sum[:]) != fields[3] {
		return nil, fmt.Errorf("part %d checksum mismatch", index)
	}
	want := m.PartSize
	if index == m.Parts-1 {
		want = int(m.StoredSize - int64(m.PartSize)*int64(m.Parts-1))
	}
	if len(chunk) != want {
		return nil, fmt.Errorf("part %d holds %d bytes; the manifest wants %d", index, len(chunk), want)
	}
	return chunk, nil
}

// join reassembles, checks and decompresses the state from its parts'
// compressed bytes, never decompressing beyond the manifest's size.
func join(m *manifest, chunks [][]byte) ([]byte, error) {
	blob := bytes.Join(chunks, nil)
	sum := sha256.Sum256(blob)
	if int64(len(blob)) != m.StoredSize || hex.EncodeToString(sum[:]) != m.StoredSHA256 {
		return nil, fmt.Errorf("parts joined do not match the manifest's stored checksum")
	}
	dec, err := zstd.NewReader(bytes.NewReader(blob),
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(MaxStateSize+1),
		zstd.WithDecoderMaxWindow(MaxStateSize))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	encoded, err := io.ReadAll(io.LimitReader(dec, m.Size+1))
	if err != nil {
		return nil, fmt.Errorf("parts do not decompress: %v", err)
	}
	if int64(len(encoded)) != m.Size {
		return nil, fmt.Errorf("parts decompress to more or fewer than the manifest's %d bytes", m.Size)
	}
	sum = sha256.Sum256(encoded)
	if hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, fmt.Errorf("state checksum mismatch")
	}
	return encoded, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
