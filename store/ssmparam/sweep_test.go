package ssmparam

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmstate/ssmstate/emulator"
)

func TestPartGeneration(t *testing.T) {
	const prefix = "/ts/n.part-"
	for name, want := range map[string]uint64{
		"/ts/n.part-7-0":          7,
		"/ts/n.part-12-340":       12,
		"/ts/n.part-0-1":          0, // generation 0 is never written
		"/ts/n.part-x-1":          0,
		"/ts/n.part-7":            0,
		"/ts/n.part-7-x":          0,
		"/ts/n.part-3-x.part-5-0": 0, // another state's main parameter named like a part
		"/ts/n2.part-7-0":         0,
	} {
		got, ok := partGeneration(prefix, name)
		if ok != (want != 0) || got != want {
			t.Errorf("partGeneration(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
}

// listNames lists the parameter names beginning with prefix.
func listNames(t *testing.T, c *ssm.Client, prefix string) []string {
	t.Helper()
	var names []string
	p := ssm.NewDescribeParametersPaginator(c, &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{prefix}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, md := range page.Parameters {
			names = append(names, aws.ToString(md.Name))
		}
	}
	slices.Sort(names)
	return names
}

// TestSweepRemovesPartsOfInterruptedWriters plants what killed writers leave
// (parts of an older generation, a recent newer generation, and names that
// only look like parts) and checks that the first commit of a new backend
// removes exactly the dead generations, and that the next commits do not
// list parameters again.
func TestSweepRemovesPartsOfInterruptedWriters(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	c := ssm.NewFromConfig(cfg)
	ctx := context.Background()
	const name = "/ts/sweep/node"

	newBackend := func() *Backend {
		b, err := NewFromConfig(ctx, cfg, Config{ParameterName: name, KMSKey: DefaultKey})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := func() map[string][]byte {
		v := make([]byte, 12000) // random: ~6 parts
		rand.Read(v)
		return map[string][]byte{"k": v}
	}

	// A committed large state at some generation g.
	b := newBackend()
	if _, err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := b.Save(ctx, big()); err != nil {
			t.Fatal(err)
		}
	}
	_, g := b.Version()
	if g < 3 {
		t.Fatalf("generation after 3 large saves = %d, want ≥ 3", g)
	}

	put := func(n string) {
		t.Helper()
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("garbage"), Type: types.ParameterTypeSecureString}); err != nil {
			t.Fatalf("plant %s: %v", n, err)
		}
	}
	// Left by a writer killed after its commit, before its cleanup: an
	// older generation than the one in effect.
	var dead []string
	for i := range 4 {
		dead = append(dead, partName(name, 1, i))
		put(partName(name, 1, i))
	}
	// Left by a writer that is writing right now (or was killed a moment
	// ago): newer than the one in effect and recent, so it must stay.
	racer := partName(name, g+5, 0)
	put(racer)
	// Not parts of this state.
	others := []string{name + ".part-x-0", "/ts/sweep/node2.part-1-0"}
	for _, n := range others {
		put(n)
	}

	// A new backend (as after a restart) commits: the sweep runs once.
	b = newBackend()
	if _, err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	if err := b.Save(ctx, big()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls()["ssm.DescribeParameters"]; n != 1 {
		t.Fatalf("first save made %d DescribeParameters calls, want 1 (%v)", n, srv.Calls())
	}
	_, g2 := b.Version()
	got := listNames(t, c, "/ts/sweep/")
	for _, n := range dead {
		if slices.Contains(got, n) {
			t.Errorf("dead part %s survived the sweep", n)
		}
	}
	for _, n := range append([]string{racer, name}, others...) {
		if !slices.Contains(got, n) {
			t.Errorf("%s was deleted by the sweep; it must stay", n)
		}
	}
	// Exactly the parts of generation g2 remain, besides those kept above.
	var parts int
	for _, n := range got {
		if gen, ok := partGeneration(name+".part-", n); ok && gen == g2 {
			parts++
		}
	}
	if parts == 0 {
		t.Fatalf("no parts of the committed generation %d remain: %v", g2, got)
	}
	if want := parts + 1 + 1 + len(others); len(got) != want {
		t.Errorf("after the sweep %d parameters remain, want %d: %v", len(got), want, got)
	}

	// The data is intact.
	st, err := newBackend().Load(ctx)
	if err != nil || len(st["k"]) != 12000 {
		t.Fatalf("reload after sweep: %d bytes, %v", len(st["k"]), err)
	}

	// Later saves within SweepInterval do not list again.
	srv.ResetCalls()
	for range 3 {
		if err := b.Save(ctx, big()); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls()["ssm.DescribeParameters"]; n != 0 {
		t.Fatalf("saves after the first made %d DescribeParameters calls, want 0", n)
	}
}

// TestSweepWithoutDescribePermission: a principal allowed only the calls the
// store needs (no ssm:DescribeParameters) still saves; the sweep gives up
// quietly.
func TestSweepWithoutDescribePermission(t *testing.T) {
	const ak, sk = "AKIASWEEPTEST0000001", "sweep-test-secret-key-0000000000000000000"
	srv := emulator.NewTestServer(t, emulator.WithIAMConfig(emulator.IAMConfig{
		Account: emulator.DefaultAccount,
		Principals: []emulator.IAMPrincipal{{
			ARN: "arn:aws:iam::" + emulator.DefaultAccount + ":user/node", AccessKeyID: ak, SecretAccessKey: sk,
			Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"ssm:DescribeParameters","Resource":"*"}]}`)},
		}},
	}))
	cfg := srv.AWSConfigWithCredentials("us-east-1", ak, sk)
	ctx := context.Background()
	b, err := NewFromConfig(ctx, cfg, Config{ParameterName: "/ts/sweep/denied", KMSKey: DefaultKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v := make([]byte, 9000)
		rand.Read(v)
		if err := b.Save(ctx, map[string][]byte{"k": v}); err != nil {
			t.Fatalf("save %d without ssm:DescribeParameters: %v", i, err)
		}
	}
	if n := srv.Calls()["ssm.DescribeParameters"]; n != 1 {
		t.Fatalf("DescribeParameters calls = %d, want 1 (denied, not retried)", n)
	}
}

// TestSmallStateCalls: a single-parameter state (every Tailscale node below
// 4 KB) costs one PutParameter per Save and no read or listing at all; parts
// left behind by another writer are then not looked for (the documented
// trade-off) until this backend has a multi-part event, which sweeps them.
func TestSmallStateCalls(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	c := ssm.NewFromConfig(cfg)
	ctx := context.Background()
	const name = "/ts/calls/node"
	b, err := NewFromConfig(ctx, cfg, Config{ParameterName: name, KMSKey: DefaultKey})
	if err != nil {
		t.Fatal(err)
	}
	// Old garbage: a dead generation's part.
	dead := partName(name, 1, 0)
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(dead), Value: aws.String("garbage"), Type: types.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	if _, err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Save(ctx, map[string][]byte{"k": {byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	calls := srv.Calls()
	if calls["ssm.PutParameter"] != 5 || calls["ssm.GetParameters"] != 1 || len(calls) != 2 {
		t.Fatalf("load + 5 small saves made %v, want 1 GetParameters and 5 PutParameter only", calls)
	}
	if !slices.Contains(listNames(t, c, name), dead) {
		t.Fatalf("%s was deleted although no multi-part event happened", dead)
	}
	// A multi-part commit (and then back to small) sweeps the dead part
	// (older than the generation in effect).
	v := make([]byte, 12000)
	rand.Read(v)
	if err := b.Save(ctx, map[string][]byte{"k": v}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(listNames(t, c, name), dead) {
		t.Fatalf("%s survived the sweep after a multi-part commit", dead)
	}
}

// sweepHook is the real SSM client with a hook that runs once before the
// sweep's listing: it lets a test commit from another writer exactly
// between a backend's commit and its sweep.
type sweepHook struct {
	*ssm.Client
	before func()
}

func (h *sweepHook) DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, optFns ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.Client.DescribeParameters(ctx, in, optFns...)
}

// TestSweepSparesStaleWritersCommit: a stale writer (loaded two commits ago)
// writes no read before its parts, so it can commit an older generation
// than the one in effect, between another backend's commit and that
// backend's sweep. The sweep must not delete the parts that commit names.
func TestSweepSparesStaleWritersCommit(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	ctx := context.Background()
	const name = "/ts/sweep/stale"
	big := func() map[string][]byte {
		v := make([]byte, 12000)
		rand.Read(v)
		return map[string][]byte{"k": v}
	}
	newBackend := func(c Client) *Backend {
		b, err := New(ctx, Config{Client: c, ParameterName: name, KMSKey: DefaultKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	x := newBackend(NewClient(cfg))
	if err := x.Save(ctx, big()); err != nil {
		t.Fatal(err)
	}
	stale := newBackend(NewClient(cfg))
	for range 2 {
		if err := x.Save(ctx, big()); err != nil {
			t.Fatal(err)
		}
	}
	hook := &sweepHook{Client: NewClient(cfg)}
	a := newBackend(hook)
	staleState := big()
	var staleErr error
	hook.before = func() { staleErr = stale.Save(ctx, staleState) }
	if err := a.Save(ctx, big()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(staleErr, errConflict) {
		t.Fatalf("stale writer's Save = %v, want ErrConflict", staleErr)
	}
	_, ga := a.Version()
	if _, gs := stale.Version(); gs >= ga {
		t.Fatalf("stale writer committed generation %d, not older than %d: the test does not exercise the window", gs, ga)
	}
	got, err := newBackend(NewClient(cfg)).Load(ctx)
	if err != nil {
		t.Fatalf("load after the sweep: %v (the sweep deleted the parts the stale writer's manifest names)", err)
	}
	if !bytes.Equal(got["k"], staleState["k"]) {
		t.Fatal("state after the race is not the stale writer's, whose put landed last")
	}
}
