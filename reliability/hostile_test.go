package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/klauspost/compress/zstd"

	"github.com/ssmstate/ssmstate/ops"
	"github.com/ssmstate/ssmstate/store"
)

// Crafted content as anyone with ssm:PutParameter could plant it, in the
// format docs/format.md describes.

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func partValue(gen uint64, i int, chunk []byte) string {
	return "ssmstate-part:" + strconv.FormatUint(gen, 10) + ":" + strconv.Itoa(i) + ":" + hexSum(chunk) + ":" + base64.StdEncoding.EncodeToString(chunk)
}

func manifestJSON(gen uint64, size int64, sum string, blob []byte, parts int, extra string) string {
	return fmt.Sprintf(`{"ssmstate":1,"generation":%d,"compression":"zstd","size":%d,"sha256":%q,"storedSize":%d,"storedSha256":%q,"partSize":2976,"parts":%d%s}`,
		gen, size, sum, len(blob), hexSum(blob), parts, extra)
}

// plantBlob stores blob as the parts of generation gen of name and returns
// how many parts it took.
func (e *env) plantBlob(t *testing.T, name string, gen uint64, blob []byte) int {
	t.Helper()
	n := 0
	for b := blob; len(b) > 0; n++ {
		c := b[:min(len(b), 2976)]
		e.put(t, fmt.Sprintf("%s.part-%d-%d", name, gen, n), partValue(gen, n, c))
		b = b[len(c):]
	}
	return n
}

func (e *env) put(t *testing.T, name, value string) {
	t.Helper()
	tier := types.ParameterTierStandard
	if len(value) > 4096 {
		tier = types.ParameterTierAdvanced
	}
	if _, err := e.ssm.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeSecureString,
		KeyId: aws.String(e.alias), Overwrite: aws.Bool(true), Tier: tier,
	}); err != nil {
		t.Fatalf("plant %s: %v", name, err)
	}
}

func TestHostileContentRejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	zeros := func(n int) []byte {
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(make([]byte, n), nil)
	}
	// The parameter a manifest might try to make the store read or write.
	const outside = "/ts/hostile/other/secret"
	e.put(t, outside, "not yours")

	cases := []struct {
		name  string
		plant func(t *testing.T, name string)
		want  string // in the error
	}{
		{"million-parts", func(t *testing.T, name string) {
			e.put(t, name, manifestJSON(1, 100, strings.Repeat("0", 64), []byte("x"), 1_000_000, ""))
		}, "parts"},
		{"part-wrong-size", func(t *testing.T, name string) {
			blob := randomBytes(5000) // two parts: 2976 + 2024
			e.put(t, name+".part-1-0", partValue(1, 0, blob[:2976]))
			e.put(t, name+".part-1-1", partValue(1, 1, blob[2976:4000])) // short, yet checksummed
			e.put(t, name, manifestJSON(1, 9000, strings.Repeat("0", 64), blob, 2, ""))
		}, "part 1"},
		{"part-too-large", func(t *testing.T, name string) {
			blob := randomBytes(100)
			e.put(t, name+".part-1-0", partValue(1, 0, blob)+strings.Repeat("A", 4000))
			e.put(t, name, manifestJSON(1, 100, strings.Repeat("0", 64), blob, 1, ""))
		}, "part 0"},
		{"decompression-bomb", func(t *testing.T, name string) {
			blob := zeros(256 << 20) // 256 MiB of zeros in a few KiB
			n := e.plantBlob(t, name, 1, blob)
			e.put(t, name, manifestJSON(1, 1000, strings.Repeat("0", 64), blob, n, ""))
		}, "decompress"},
		{"bomb-claiming-the-limit", func(t *testing.T, name string) {
			blob := zeros(256 << 20)
			n := e.plantBlob(t, name, 1, blob)
			e.put(t, name, manifestJSON(1, 16<<20, strings.Repeat("0", 64), blob, n, ""))
		}, "decompress"},
		{"invalid-utf8", func(t *testing.T, name string) {
			e.put(t, name, "{\"_machinekey\":\"\xff\xfe\xfd\"}")
		}, "base64"},
		{"invalid-utf8-in-part", func(t *testing.T, name string) {
			blob := randomBytes(100)
			e.put(t, name+".part-1-0", "ssmstate-part:1:0:"+hexSum(blob)+":\xff\xfe"+base64.StdEncoding.EncodeToString(blob))
			e.put(t, name, manifestJSON(1, 100, strings.Repeat("0", 64), blob, 1, ""))
		}, "part 0"},
		{"manifest-names-outside", func(t *testing.T, name string) {
			blob := randomBytes(100)
			e.plantBlob(t, name, 1, blob)
			e.put(t, name, manifestJSON(1, 100, strings.Repeat("0", 64), blob, 1, `,"names":["`+outside+`"],"prefix":"/ts/hostile/other"`))
		}, "manifest"},
		{"part-of-another-generation", func(t *testing.T, name string) {
			blob := randomBytes(100)
			e.put(t, name+".part-2-0", partValue(1, 0, blob)) // gen 1's part under gen 2's name
			e.put(t, name, manifestJSON(2, 100, strings.Repeat("0", 64), blob, 1, ""))
		}, "generation"},
	}
	outsideVersion := e.version(t, outside)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "/ts/hostile/" + c.name
			loc := e.locator(name, "kmsKey="+e.alias)
			// A store that had a good state open before the tampering.
			early := e.open(t, loc)
			defer early.Close()
			if err := early.WriteState(ctx, "k", []byte("good")); err != nil {
				t.Fatal(err)
			}
			c.plant(t, name)
			versions := map[string]int64{}
			for _, p := range e.params(t, name) {
				versions[aws.ToString(p.Name)] = p.Version
			}

			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg))
			runtime.ReadMemStats(&m1)
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("open: %v; want an error wrapping ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open error does not name the parameter and %q: %v", c.want, err)
			}
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 128<<20 { // the bombs hold 256 MiB; the format caps a state at 16 MiB
				t.Fatalf("open allocated %d MiB on crafted content", alloc>>20)
			}

			// Write attempts that read the content first (a fresh store, a
			// workflow): nothing is written.
			if err := ops.WriteAll(ctx, loc, map[string][]byte{"k": []byte("x")}, ops.Options{AWSConfig: &e.cfg}); err == nil {
				t.Fatal("ops.WriteAll wrote over crafted content")
			}
			if _, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg)); err == nil {
				t.Fatal("a second open accepted crafted content")
			}
			unchanged := func(what string) bool {
				for _, p := range e.params(t, name) {
					n := aws.ToString(p.Name)
					if v, ok := versions[n]; !ok || v != p.Version {
						t.Logf("%s: %s changed (version %d → %d)", what, n, v, p.Version)
						return false
					}
				}
				return true
			}
			if !unchanged("after the fresh write attempts") {
				t.Fatal("a write attempt that read the crafted content wrote over it")
			}
			// A store that had the good state open before the tampering
			// writes without reading (since 8e3ac8e the commit protocol has
			// no read before a put and sees other writers from the version
			// the put returns): it reports the conflict, may have replaced
			// the crafted content with its own state once, and refuses to
			// write again.
			if err := early.WriteState(ctx, "k", []byte("newer")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("write through the store opened before the tampering: %v; want ErrConflict", err)
			}
			overwritten := !unchanged("after the stale store's first write")
			for _, p := range e.params(t, name) {
				versions[aws.ToString(p.Name)] = p.Version
			}
			if err := early.WriteState(ctx, "k2", []byte("more")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second write through the stale store: %v; want ErrConflict", err)
			}
			if !unchanged("after the stale store's second write") {
				t.Fatal("the stale store wrote again after reporting a conflict")
			}
			if overwritten {
				t.Logf("%s: the stale store's first write replaced the crafted content with its own state (reported as a conflict)", c.name)
			}
			msg := err.Error()
			t.Logf("%s: rejected, %d KiB allocated: …%s", c.name, (m1.TotalAlloc-m0.TotalAlloc)>>10, msg[max(0, len(msg)-200):])
		})
	}
	if v := e.version(t, outside); v != outsideVersion {
		t.Fatalf("%s changed: version %d → %d", outside, outsideVersion, v)
	}
}
