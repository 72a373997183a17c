// Package reliability holds issue 9's suite: crashes, a faulty cloud, key
// incidents, endpoint restarts, hostile content and secret hygiene, each
// driven through the real store, the real SSM backend and the local
// endpoint over HTTP. It has no non-test code.
package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam" // SSM locators
)

const region = "us-east-1"

// env is a local endpoint with a customer key behind an alias, and plain
// SDK clients to inspect and tamper with it.
type env struct {
	srv    *emulator.Server
	cfg    aws.Config
	ssm    *ssm.Client
	kms    *kms.Client
	keyID  string
	keyARN string
	alias  string
}

func newEnv(t testing.TB, opts ...emulator.Option) *env {
	t.Helper()
	return envFor(t, emulator.NewTestServer(t, opts...))
}

func envFor(t testing.TB, srv *emulator.Server) *env {
	t.Helper()
	e := &env{srv: srv, alias: "alias/ts-reliability"}
	e.cfg = srv.AWSConfig(region)
	e.ssm = ssm.NewFromConfig(e.cfg)
	e.kms = kms.NewFromConfig(e.cfg)
	id, arn := e.createKey(t, "reliability key A")
	e.keyID, e.keyARN = id, arn
	if _, err := e.kms.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String(e.alias), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	return e
}

func (e *env) createKey(t testing.TB, desc string) (id, arn string) {
	t.Helper()
	out, err := e.kms.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(desc)})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	return aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
}

func (e *env) locator(name, opts string) string {
	l := "arn:aws:ssm:" + region + ":" + e.srv.Account() + ":parameter" + name
	if opts != "" {
		l += "?" + opts
	}
	return l
}

func (e *env) open(t testing.TB, loc string, opts ...store.Option) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), loc, append([]store.Option{store.WithAWSConfig(e.cfg)}, opts...)...)
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	return s
}

// params lists the parameters whose names begin with prefix.
func (e *env) params(t testing.TB, prefix string) []types.ParameterMetadata {
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

// version returns a parameter's version (0 if absent).
func (e *env) version(t testing.TB, name string) int64 {
	t.Helper()
	out, err := e.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	if errors.As(err, new(*types.ParameterNotFound)) {
		return 0
	}
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return out.Parameter.Version
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// stamped is a value that proves it is whole: an 8-byte sequence number, a
// random body, and the SHA-256 of both.
func stamped(seq uint64, size int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, seq)
	b.Write(randomBytes(size))
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// checkStamped returns a stamped value's sequence number, or an error if
// the value is not whole.
func checkStamped(v []byte) (uint64, error) {
	if len(v) < 8+sha256.Size {
		return 0, fmt.Errorf("value of %d bytes is too short to be stamped", len(v))
	}
	body, sum := v[:len(v)-sha256.Size], v[len(v)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return 0, errors.New("value checksum mismatch: not one whole committed state")
	}
	return binary.BigEndian.Uint64(body[:8]), nil
}

// envInt reads a count from the environment (to scale a run up or down),
// or returns def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func randDuration(lo, hi int) int { return lo + mrand.IntN(hi-lo+1) }

func ssmClient(cfg aws.Config) *ssm.Client { return ssm.NewFromConfig(cfg) }
