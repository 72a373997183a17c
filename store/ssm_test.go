package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/mototest"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/ssmparam"
	"github.com/ssmstate/ssmstate/store/storetest"
	"tailscale.com/ipn"
	"tailscale.com/ipn/store/awsstore"
)

const testRegion = "us-east-1"

// ssmEnv is a local endpoint with a customer key and clients to inspect it.
type ssmEnv struct {
	srv    *emulator.Server
	cfg    aws.Config
	ssm    *ssm.Client
	keyARN string
	alias  string
}

func newSSMEnv(t testing.TB, opts ...emulator.Option) *ssmEnv {
	t.Helper()
	srv := emulator.NewTestServer(t, opts...)
	return newSSMEnvFor(t, srv)
}

func newSSMEnvFor(t testing.TB, srv *emulator.Server) *ssmEnv {
	t.Helper()
	cfg := srv.AWSConfig(testRegion)
	ctx := context.Background()
	kc := kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ssmstate test key")})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	alias := "alias/ts-test"
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create KMS alias: %v", err)
	}
	return &ssmEnv{srv: srv, cfg: cfg, ssm: ssm.NewFromConfig(cfg), keyARN: aws.ToString(key.KeyMetadata.Arn), alias: alias}
}

func (e *ssmEnv) locator(name, opts string) string {
	l := "arn:aws:ssm:" + testRegion + ":" + e.srv.Account() + ":parameter" + name
	if opts != "" {
		l += "?" + opts
	}
	return l
}

func (e *ssmEnv) open(t testing.TB, loc string, opts ...store.Option) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), loc, append([]store.Option{store.WithAWSConfig(e.cfg)}, opts...)...)
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	return s
}

// params lists the parameters whose names begin with prefix.
func (e *ssmEnv) params(t testing.TB, prefix string) []types.ParameterMetadata {
	t.Helper()
	var out []types.ParameterMetadata
	p := ssm.NewDescribeParametersPaginator(e.ssm, &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{prefix}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("describe parameters: %v", err)
		}
		out = append(out, page.Parameters...)
	}
	return out
}

func randomValue(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// stateOfSize makes a state whose values total size bytes.
func stateOfSize(size int) map[string][]byte {
	st := map[string][]byte{}
	for i := 0; size > 0; i++ {
		n := min(size, 16<<10)
		st[fmt.Sprintf("key-%04d", i)] = randomValue(n)
		size -= n
	}
	return st
}

func writeAll(t testing.TB, s *store.Store, st map[string][]byte) {
	t.Helper()
	for k, v := range st {
		if err := s.WriteState(context.Background(), k, v); err != nil {
			t.Fatalf("write %q: %v", k, err)
		}
	}
}

func checkState(t testing.TB, s *store.Store, want map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("store has %d keys, want %d", len(keys), len(want))
	}
	for k, v := range want {
		got, err := s.ReadState(ctx, k)
		if err != nil {
			t.Fatalf("read %q: %v", k, err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("key %q: got %d bytes that differ from the %d written", k, len(got), len(v))
		}
	}
}

func TestSSMRoundTripSizes(t *testing.T) {
	e := newSSMEnv(t)
	cases := []struct {
		name     string
		size     int
		opts     string
		parts    bool
		partTier types.ParameterTier
	}{
		{"empty", 0, "", false, ""},
		{"small", 1000, "", false, ""},
		{"just-over-standard", 3500, "", true, types.ParameterTierStandard},
		{"100KiB", 100 << 10, "", true, types.ParameterTierStandard},
		{"1MiB", 1 << 20, "", true, types.ParameterTierStandard},
		{"advanced-small", 5000, "tier=advanced", false, ""},
		{"advanced-1MiB", 1 << 20, "tier=advanced", true, types.ParameterTierAdvanced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "/ts/" + c.name
			opts := "kmsKey=" + e.alias
			if c.opts != "" {
				opts += "&" + c.opts
			}
			loc := e.locator(name, opts)
			want := stateOfSize(c.size)
			s := e.open(t, loc)
			writeAll(t, s, want)
			if c.size == 0 {
				// An empty state is written by deleting a key.
				if err := s.WriteState(context.Background(), "x", []byte("1")); err != nil {
					t.Fatal(err)
				}
				if err := s.WriteState(context.Background(), "x", nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = e.open(t, loc)
			checkState(t, s, want)
			s.Close()

			params := e.params(t, name)
			var main *types.ParameterMetadata
			nparts := 0
			for i, p := range params {
				if p.Type != types.ParameterTypeSecureString {
					t.Errorf("%s is %s, want SecureString", aws.ToString(p.Name), p.Type)
				}
				if k := aws.ToString(p.KeyId); k != e.alias && k != e.keyARN {
					t.Errorf("%s is encrypted under %q, want %s", aws.ToString(p.Name), k, e.alias)
				}
				switch {
				case aws.ToString(p.Name) == name:
					main = &params[i]
				case strings.HasPrefix(aws.ToString(p.Name), name+".part-"):
					nparts++
					if p.Tier != c.partTier {
						t.Errorf("part %s tier %s, want %s", aws.ToString(p.Name), p.Tier, c.partTier)
					}
				default:
					t.Errorf("unexpected parameter %s", aws.ToString(p.Name))
				}
			}
			if main == nil {
				t.Fatalf("main parameter %s missing", name)
			}
			chunk := 2976
			if c.partTier == types.ParameterTierAdvanced {
				chunk = 6048
			}
			switch {
			case !c.parts && nparts != 0:
				t.Errorf("%d parts for a %d-byte state, want none", nparts, c.size)
			case c.parts && nparts == 0:
				t.Errorf("no parts for a %d-byte state", c.size)
			case c.parts && nparts > c.size*3/2/chunk+2:
				// Random values: base64 in JSON, compressed back to ~3/4.
				t.Errorf("%d parts for a %d-byte state, more than the format needs", nparts, c.size)
			}
			t.Logf("%d bytes: main tier %s, %d parts", c.size, main.Tier, nparts)

			// Without decryption the value is not the plaintext.
			raw, err := e.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if v := aws.ToString(raw.Parameter.Value); strings.Contains(v, "key-") || strings.Contains(v, "ssmstate") || v == "{}" {
				t.Errorf("GetParameter without decryption returned plaintext")
			}
		})
	}
}

// TestSSMSupersededPartsRemoved checks that a large state rewritten many
// times leaves only the current generation's parts.
func TestSSMSupersededPartsRemoved(t *testing.T) {
	e := newSSMEnv(t)
	loc := e.locator("/ts/gc", "kmsKey="+e.alias)
	s := e.open(t, loc)
	defer s.Close()
	ctx := context.Background()
	for i := range 5 {
		if err := s.WriteState(ctx, "big", randomValue(20000+i*3000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteState(ctx, "big", []byte("small again")); err != nil {
		t.Fatal(err)
	}
	if ps := e.params(t, "/ts/gc"); len(ps) != 1 {
		t.Fatalf("%d parameters after shrinking, want only the main one", len(ps))
	}
}

// TestSSMConflictDetected: a stale writer (one that loaded the state before
// another writer's commit) is reported with ErrConflict. SSM has no
// conditional overwrite and the store reads nothing before a put, so the
// detection is after the fact for a single-parameter state: the stale
// writer's one put lands (SSM returns a version that skips the other
// writer's), both writers then learn of the conflict, and neither writes
// again until reopened. A multi-part stale writer whose base is one commit
// behind collides on the generation's first part and is stopped before its
// commit.
func TestSSMConflictDetected(t *testing.T) {
	e := newSSMEnv(t)
	for _, tc := range []struct {
		size  int
		ahead int  // commits the other writer makes after the stale one loaded
		lands bool // whether the stale writer's one put lands
	}{
		{size: 10, ahead: 1, lands: true},
		{size: 50000, ahead: 1, lands: false},
		{size: 50000, ahead: 3, lands: true},
	} {
		t.Run(fmt.Sprintf("%d-ahead%d", tc.size, tc.ahead), func(t *testing.T) {
			loc := e.locator(fmt.Sprintf("/ts/conflict-%d-%d", tc.size, tc.ahead), "kmsKey="+e.alias)
			ctx := context.Background()
			a := e.open(t, loc)
			defer a.Close()
			if err := a.WriteState(ctx, "k", randomValue(tc.size)); err != nil {
				t.Fatal(err)
			}
			b := e.open(t, loc)
			defer b.Close()
			var aval []byte
			for range tc.ahead {
				aval = randomValue(tc.size)
				if err := a.WriteState(ctx, "k", aval); err != nil {
					t.Fatal(err)
				}
			}
			bval := randomValue(tc.size)
			err := b.WriteState(ctx, "k", bval)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("stale writer's WriteState = %v, want ErrConflict", err)
			}
			// Having seen a conflict, b writes no more until reopened.
			if err := b.WriteState(ctx, "k2", []byte("more")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("stale writer's next WriteState = %v, want ErrConflict (refused until reopened)", err)
			}
			want := aval
			if tc.lands {
				want = bval
			}
			r := e.open(t, loc)
			checkState(t, r, map[string][]byte{"k": want})
			r.Close()
			if !tc.lands {
				return
			}
			// The overwritten writer sees the jump at its next write (its
			// put lands too: SSM cannot refuse it) and then stops.
			aval = randomValue(tc.size)
			if err := a.WriteState(ctx, "k", aval); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("overwritten writer's next WriteState = %v, want ErrConflict", err)
			}
			if err := a.WriteState(ctx, "k3", []byte("more")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("overwritten writer's WriteState after its conflict = %v, want ErrConflict", err)
			}
			r = e.open(t, loc)
			defer r.Close()
			checkState(t, r, map[string][]byte{"k": aval})
		})
	}
	t.Run("both-create", func(t *testing.T) {
		loc := e.locator("/ts/conflict-new", "kmsKey="+e.alias)
		ctx := context.Background()
		a, b := e.open(t, loc), e.open(t, loc)
		defer a.Close()
		defer b.Close()
		if err := a.WriteState(ctx, "k", []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteState(ctx, "k", []byte("b")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second creator's WriteState = %v, want ErrConflict", err)
		}
	})
}

// TestSSMRetries runs writes and reads through an endpoint that throttles,
// fails with 500 and resets connections on a third of the calls.
func TestSSMRetries(t *testing.T) {
	e := newSSMEnv(t)
	loc := e.locator("/ts/flaky", "kmsKey="+e.alias)
	e.srv.SetFaults(emulator.FaultSpec{ThrottleRate: 0.15, InternalErrorRate: 0.1, ConnectionResetRate: 0.1, Operations: []string{"ssm.GetParameter", "ssm.GetParameters", "ssm.PutParameter", "ssm.DeleteParameters"}, Seed: 7})
	want := stateOfSize(40000)
	s := e.open(t, loc, store.WithTimeout(2*time.Minute))
	writeAll(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = e.open(t, loc, store.WithTimeout(2*time.Minute))
	defer s.Close()
	checkState(t, s, want)
}

// putRaw writes a parameter as some other tool would.
func (e *ssmEnv) putRaw(t testing.TB, name, value string, typ types.ParameterType, key string) {
	t.Helper()
	in := &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true)}
	if key != "" {
		in.KeyId = aws.String(key)
	}
	if _, err := e.ssm.PutParameter(context.Background(), in); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func TestSSMCorruptContentRejected(t *testing.T) {
	e := newSSMEnv(t)
	ctx := context.Background()
	// A valid large state whose parts the cases then damage.
	seed := func(t *testing.T, name string) {
		s := e.open(t, e.locator(name, "kmsKey="+e.alias))
		writeAll(t, s, stateOfSize(30000))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	partOf := func(t *testing.T, name string) (string, string) {
		for _, p := range e.params(t, name+".part-") {
			out, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: p.Name, WithDecryption: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(p.Name), aws.ToString(out.Parameter.Value)
		}
		t.Fatalf("no parts of %s", name)
		return "", ""
	}
	cases := map[string]struct {
		damage func(t *testing.T, name string)
		want   string
	}{
		"not JSON": {func(t *testing.T, name string) {
			e.putRaw(t, name, "this is not json", types.ParameterTypeSecureString, e.alias)
		}, "not a JSON object"},
		"values not base64": {func(t *testing.T, name string) {
			e.putRaw(t, name, `{"k":"@@@"}`, types.ParameterTypeSecureString, e.alias)
		}, "not a JSON object of base64"},
		"a million parts": {func(t *testing.T, name string) {
			e.putRaw(t, name, fmt.Sprintf(`{"ssmstate":1,"generation":3,"compression":"zstd","size":100,"sha256":"%s","storedSize":%d,"storedSha256":"%s","partSize":2976,"parts":1000000}`,
				strings.Repeat("a", 64), 2976*1000000, strings.Repeat("b", 64)), types.ParameterTypeSecureString, e.alias)
		}, "parts"},
		"missing part": {func(t *testing.T, name string) {
			seed(t, name)
			p, _ := partOf(t, name)
			if _, err := e.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(p)}); err != nil {
				t.Fatal(err)
			}
		}, "missing"},
		"checksum mismatch": {func(t *testing.T, name string) {
			seed(t, name)
			p, v := partOf(t, name)
			b := []byte(v)
			b[len(b)-5] ^= 0x01 // stays base64 for A..Z a..z
			e.putRaw(t, p, string(b), types.ParameterTypeSecureString, e.alias)
		}, "part"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pname := "/ts/corrupt-" + strings.ReplaceAll(name, " ", "-")
			c.damage(t, pname)
			before, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(pname)})
			if err != nil {
				t.Fatal(err)
			}
			loc := e.locator(pname, "kmsKey="+e.alias)
			_, err = store.Open(ctx, loc, store.WithAWSConfig(e.cfg))
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), pname) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open = %v, want ErrCorrupt naming %s and saying %q", err, pname, c.want)
			}

			// The backend itself refuses to write over it...
			b, err := ssmparam.NewFromConfig(ctx, e.cfg, ssmparam.Config{ParameterName: pname, KMSKey: e.alias})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Load(ctx); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Load = %v, want ErrCorrupt", err)
			}
			if err := b.Save(ctx, map[string][]byte{"k": []byte("v")}); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Save over corrupt content = %v, want ErrCorrupt", err)
			}
			after, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(pname)})
			if err != nil {
				t.Fatal(err)
			}
			if after.Parameter.Version != before.Parameter.Version {
				t.Fatalf("corrupt parameter was overwritten: version %d -> %d", before.Parameter.Version, after.Parameter.Version)
			}

			// ...unless reset.
			s, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg), store.WithReset())
			if err != nil {
				t.Fatalf("Open with reset: %v", err)
			}
			if err := s.WriteState(ctx, "k", []byte("fresh")); err != nil {
				t.Fatalf("write after reset: %v", err)
			}
			s.Close()
			s = e.open(t, loc)
			checkState(t, s, map[string][]byte{"k": []byte("fresh")})
			s.Close()
		})
	}
}

// TestSSMUpgradeFromString: a state in a plain String parameter is read and
// rewritten as SecureString under the configured key by the next write.
func TestSSMUpgradeFromString(t *testing.T) {
	e := newSSMEnv(t)
	ctx := context.Background()
	name := "/ts/plain"
	e.putRaw(t, name, `{"_machinekey":"cHJpdmtleQ=="}`, types.ParameterTypeString, "")
	s := e.open(t, e.locator(name, "kmsKey="+e.alias))
	checkState(t, s, map[string][]byte{"_machinekey": []byte("privkey")})
	if err := s.WriteState(ctx, "_current-profile", []byte("p1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	assertSecureUnder(t, e, name, e.alias)
	s = e.open(t, e.locator(name, "kmsKey="+e.alias))
	defer s.Close()
	checkState(t, s, map[string][]byte{"_machinekey": []byte("privkey"), "_current-profile": []byte("p1")})
}

func assertSecureUnder(t testing.TB, e *ssmEnv, name, key string) {
	t.Helper()
	ps := e.params(t, name)
	for _, p := range ps {
		if aws.ToString(p.Name) != name {
			continue
		}
		if p.Type != types.ParameterTypeSecureString {
			t.Fatalf("%s is %s, want SecureString", name, p.Type)
		}
		if k := aws.ToString(p.KeyId); k != key && k != e.keyARN {
			t.Fatalf("%s is under key %q, want %s", name, k, key)
		}
		return
	}
	t.Fatalf("%s not found", name)
}

func motoConfig(url string) aws.Config {
	return aws.Config{
		Region:       testRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
}

// TestSSMOnMoto is a second opinion on plain SSM behaviour (no KMS).
func TestSSMOnMoto(t *testing.T) {
	url := mototest.Start(t)
	cfg := motoConfig(url)
	ctx := context.Background()
	for _, size := range []int{100, 200 << 10} {
		loc := fmt.Sprintf("arn:aws:ssm:%s:123456789012:parameter/ts/moto-%d", testRegion, size)
		want := stateOfSize(size)
		s, err := store.Open(ctx, loc, store.WithAWSConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, s, want)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = store.Open(ctx, loc, store.WithAWSConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		checkState(t, s, want)
		s.Close()
	}
}

// TestSuiteSSMEndpoint runs the behavioural suite against the local endpoint
// with a customer key.
func TestSuiteSSMEndpoint(t *testing.T) {
	e := newSSMEnv(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) (string, []store.Option) {
		return e.locator(fmt.Sprintf("/ts/suite/n%d", n.Add(1)), "kmsKey="+e.alias), []store.Option{store.WithAWSConfig(e.cfg)}
	})
}

// TestSuiteSSMMoto runs the behavioural suite against moto_server, without
// a KMS key (moto does not check keys).
func TestSuiteSSMMoto(t *testing.T) {
	cfg := motoConfig(mototest.Start(t))
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) (string, []store.Option) {
		return fmt.Sprintf("arn:aws:ssm:%s:123456789012:parameter/ts/suite/n%d", testRegion, n.Add(1)), []store.Option{store.WithAWSConfig(cfg)}
	}, storetest.WritesPerGoroutine(5))
}

// TestSSMReadsAwsstoreState: Tailscale's own awsstore writes a state (under
// aws/ssm, as it does without kmsKey) to the local endpoint through
// AWS_ENDPOINT_URL_SSM; our store, also configured only through the
// environment, reads it and re-encrypts it under the customer key on its
// next write.
func TestSSMReadsAwsstoreState(t *testing.T) {
	e := newSSMEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_SSM", e.srv.URL)
	// Open's fail-fast key check (one DescribeKey) goes to KMS.
	t.Setenv("AWS_ENDPOINT_URL_KMS", e.srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", emulator.DummyAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", emulator.DummySecretAccessKey)
	t.Setenv("AWS_REGION", testRegion)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	name := "/ts/tailscaled"
	ts, err := awsstore.New(t.Logf, e.locator(name, ""))
	if err != nil {
		t.Fatalf("awsstore.New: %v", err)
	}
	want := map[string][]byte{"_machinekey": []byte("privkey:0123"), "_profiles": []byte(`{"a":1}`)}
	for k, v := range want {
		if err := ts.WriteState(ipn.StateKey(k), v); err != nil {
			t.Fatalf("awsstore WriteState: %v", err)
		}
	}
	assertSecureUnder(t, e, name, ssmparam.DefaultKey)

	ctx := context.Background()
	// No WithAWSConfig: the default chain and AWS_ENDPOINT_URL_SSM.
	s, err := store.Open(ctx, e.locator(name, "kmsKey="+e.alias))
	if err != nil {
		t.Fatalf("open awsstore's parameter: %v", err)
	}
	checkState(t, s, want)
	want["_current-profile"] = []byte("p1")
	if err := s.WriteState(ctx, "_current-profile", []byte("p1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	assertSecureUnder(t, e, name, e.alias)

	// awsstore still reads what we wrote (small states share the format).
	ts2, err := awsstore.New(t.Logf, e.locator(name, ""))
	if err != nil {
		t.Fatalf("awsstore.New over our state: %v", err)
	}
	for k, v := range want {
		got, err := ts2.ReadState(ipn.StateKey(k))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("awsstore reads %q = %q, %v; want %q", k, got, err, v)
		}
	}
}
