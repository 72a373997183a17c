package ssmparam

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/klauspost/compress/zstd"

	"github.com/ssmstate/ssmstate/store"
)

// Fuzz targets for everything the backend decodes from SSM: content anyone
// with ssm:PutParameter can write. Corpora are in testdata/fuzz/<target>;
// .ci/fuzz.sh runs each target for a bounded time.

// FuzzDecodeState: the Tailscale-format JSON state. Whatever decodes must
// encode and decode back to the same state.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"_machinekey":"cHJpdmtleTowMA=="}`))
	f.Add([]byte("{\n  \"a\": \"\",\n  \"b\": \"AAEC\"\n}"))
	f.Add([]byte(`{"a":"\xff\xfe"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		enc, err := encodeState(st)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		back, err := decodeState(enc)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if len(back) != len(st) {
			t.Fatalf("round trip: %d keys, want %d", len(back), len(st))
		}
		for k, v := range st {
			if !bytes.Equal(back[k], v) {
				t.Fatalf("round trip changed key %q", k)
			}
		}
	})
}

// FuzzManifest: a manifest is accepted only within the format's limits,
// before any part is fetched.
func FuzzManifest(f *testing.F) {
	m, _, err := split(bytes.Repeat([]byte("x"), 100000), 3, false)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := jsonMarshal(m)
	f.Add(good)
	f.Add([]byte(`{"ssmstate":1,"generation":1,"compression":"zstd","size":1,"sha256":"00","storedSize":1,"storedSha256":"00","partSize":2976,"parts":1000000}`))
	f.Add([]byte(`{"ssmstate":1,"parts":2,"names":["/other/param"]}`))
	f.Add([]byte(`{"ssmstate":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		isManifest(b)
		m, err := parseManifest(b)
		if err != nil {
			return
		}
		if m.Parts < 1 || m.Parts > maxParts || m.Size > MaxStateSize || m.StoredSize > MaxStateSize {
			t.Fatalf("accepted a manifest beyond the limits: %+v", m)
		}
		if int64(m.Parts-1)*int64(m.PartSize) >= m.StoredSize {
			t.Fatalf("accepted a manifest whose part count does not match its size: %+v", m)
		}
	})
}

// FuzzJoin: compressed bytes whose checksum matches the manifest (so the
// decompressor really sees them) never decompress past the manifest's size,
// whatever they are (a decompression bomb included).
func FuzzJoin(f *testing.F) {
	enc, _ := zstd.NewWriter(nil)
	f.Add(enc.EncodeAll([]byte(`{"a":"AAAA"}`), nil), int64(12))
	f.Add(enc.EncodeAll(make([]byte, 1<<20), nil), int64(100)) // a small bomb
	f.Add([]byte("not zstd"), int64(8))
	enc.Close()
	f.Fuzz(func(t *testing.T, blob []byte, size int64) {
		if len(blob) == 0 || len(blob) > MaxStateSize {
			return
		}
		size = max(0, size%(1<<20))
		sum := sha256.Sum256(blob)
		m := &manifest{Format: FormatVersion, Generation: 1, Compression: compression, Size: size,
			SHA256: strings.Repeat("0", 64), StoredSize: int64(len(blob)), StoredSHA256: hex.EncodeToString(sum[:]),
			PartSize: standardChunk, Parts: (len(blob) + standardChunk - 1) / standardChunk}
		var chunks [][]byte
		for b := blob; len(b) > 0; b = b[min(len(b), standardChunk):] {
			chunks = append(chunks, b[:min(len(b), standardChunk)])
		}
		out, err := join(m, chunks)
		if err == nil && int64(len(out)) != size {
			t.Fatalf("join returned %d bytes for a manifest size of %d", len(out), size)
		}
	})
}

// fuzzClient is an SSM API answering GetParameters from a map, as SSM
// would for the content an attacker planted; it refuses writes.
type fuzzClient struct{ params map[string]string }

func (c *fuzzClient) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := c.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &types.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Name: in.Name, Value: aws.String(v), Version: 1}}, nil
}

func (c *fuzzClient) GetParameters(ctx context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	if len(in.Names) > 10 {
		return nil, errors.New("GetParameters takes at most 10 names")
	}
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := c.params[n]; ok {
			out.Parameters = append(out.Parameters, types.Parameter{Name: aws.String(n), Value: aws.String(v), Version: 1})
		}
	}
	return out, nil
}

var errFuzzWrite = errors.New("fuzz client refuses writes")

func (c *fuzzClient) PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	return nil, errFuzzWrite
}

func (c *fuzzClient) DeleteParameter(context.Context, *ssm.DeleteParameterInput, ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error) {
	return nil, errFuzzWrite
}

func (c *fuzzClient) DeleteParameters(context.Context, *ssm.DeleteParametersInput, ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	return nil, errFuzzWrite
}

// FuzzLoad drives the whole decoder (main parameter, manifest, parts,
// join) through Load with planted content: a main value and a value that
// every part name of every generation resolves to (part index 0 resolves
// to part0, the others to partN). Load must not panic, and anything it
// rejects must be ErrCorrupt.
func FuzzLoad(f *testing.F) {
	blob := bytes.Repeat([]byte(`{"k":"QUFBQQ=="}`), 1)
	m, parts, err := split(blob, 2, false)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := jsonMarshal(m)
	f.Add(string(good), parts[0], "")
	f.Add(`{"_machinekey":"cHJpdmtleQ=="}`, "", "")
	f.Add(`{"ssmstate":1,"generation":2,"compression":"zstd","size":16,"sha256":"`+strings.Repeat("a", 64)+`","storedSize":3000,"storedSha256":"`+strings.Repeat("b", 64)+`","partSize":2976,"parts":2}`, parts[0], parts[0])
	f.Fuzz(func(t *testing.T, main, part0, partN string) {
		const name = "/ts/fuzz"
		c := &fuzzClient{params: map[string]string{name: main}}
		if m, err := parseManifest([]byte(main)); err == nil {
			for i := range min(m.Parts, 64) {
				v := partN
				if i == 0 {
					v = part0
				}
				c.params[partName(name, m.Generation, i)] = v
			}
		}
		b, err := New(context.Background(), Config{Client: c, ParameterName: name, KMSKey: "alias/k"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(context.Background()); err != nil && !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Load of planted content failed with %v, want an error wrapping ErrCorrupt", err)
		}
	})
}
