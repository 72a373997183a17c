package tsstate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"tailscale.com/ipn"
	"tailscale.com/ipn/store/awsstore"
	"tailscale.com/types/logger"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/tsnettest"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/tsstate"
)

const compatAlias = "alias/ts-compat"

// compatLocator is an SSM locator for parameter name under the compat key,
// named as a bare alias name: awsstore and our locator parser must both
// turn "ts-compat" into alias/ts-compat.
func compatLocator(name string) string {
	return "arn:aws:ssm:us-east-1:000000000000:parameter" + name + "?kmsKey=" + strings.TrimPrefix(compatAlias, "alias/")
}

// newAWSStore opens Tailscale's own SSM store on loc as tailscaled would
// (--state=loc): it takes its endpoint from AWS_ENDPOINT_URL_SSM.
func newAWSStore(t *testing.T, loc string) ipn.StateStore {
	t.Helper()
	arn, opts, err := awsstore.ParseARNAndOpts(loc)
	if err != nil {
		t.Fatalf("awsstore.ParseARNAndOpts(%s): %v", loc, err)
	}
	s, err := awsstore.New(logger.Discard, arn, opts...)
	if err != nil {
		t.Fatalf("awsstore.New(%s): %v", loc, err)
	}
	return s
}

// compatEndpoint starts a local endpoint with the compat key and points the
// default AWS configuration at it through the per-service endpoint
// variables: AWS_ENDPOINT_URL_SSM for awsstore (its only service), and
// AWS_ENDPOINT_URL_KMS for our store, which also checks the key with KMS
// DescribeKey when it opens.
func compatEndpoint(t *testing.T) *emulator.Server {
	t.Helper()
	ep := emulator.NewTestServer(t)
	useEndpoint(t, "AWS_ENDPOINT_URL_SSM", ep.URL)
	t.Setenv("AWS_ENDPOINT_URL_KMS", ep.URL)
	createKey(t, ep, compatAlias)
	return ep
}

// sampleState is a node state shaped like a real one (the keys a tsnet node
// writes on first login, with their sizes), plus an empty value and a value
// with every byte, about 2.7 KB of awsstore JSON: below the Standard size.
func sampleState() map[ipn.StateKey][]byte {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	profile := `{"Config":{"PrivateMachineKey":"privkey:0000","PrivateNodeKey":"privkey:1111","OldPrivateNodeKey":"privkey:0000",` +
		`"UserProfile":{"ID":1,"LoginName":"user@example.com","DisplayName":"User"},"NetworkLockKey":"nlpriv:2222",` +
		`"NodeID":"TESTCTRL00000001"},"ControlURL":"http://127.0.0.1:1","RouteAll":false,"ExitNodeID":"","CorpDNS":true,` +
		`"WantRunning":true,"LoggedOut":false,"ShieldsUp":false,"AdvertiseTags":null,"Hostname":"node1","NotepadURLs":false,` +
		`"AdvertiseRoutes":null,"NoSNAT":false,"NoStatefulFiltering":true,"NetfilterMode":2,"AutoUpdate":{"Check":true,"Apply":null},` +
		`"AppConnector":{"Advertise":false},"PostureChecking":false,"NetfilterKind":"","DriveShares":null}` + strings.Repeat(" ", 600)
	return map[ipn.StateKey][]byte{
		"_machinekey":      []byte("privkey:5f3c9a0b1d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"),
		"_profiles":        []byte(`{"a1b2":{"ID":"a1b2","Name":"user@example.com","Key":"profile-a1b2","UserProfile":{"ID":1,"LoginName":"user@example.com","DisplayName":"User"},"NetworkProfile":{"MagicDNSName":"tail-scale.ts.net","DomainName":"tail-scale.ts.net"},"LocalUserID":"","ControlURL":"http://127.0.0.1:1","NodeID":"TESTCTRL00000001"}}`),
		"profile-a1b2":     []byte(profile),
		"_current-profile": []byte("profile-a1b2"),
		"_serve/a1b2":      []byte("{}"),
		"_empty":           {},
		"_every-byte":      every,
	}
}

// Compatibility both ways with Tailscale's ipn/store/awsstore, key for key
// and byte for byte, on one parameter under a customer key.
func TestAWSStoreCompat(t *testing.T) {
	ep := compatEndpoint(t)
	c := ssm.NewFromConfig(ep.AWSConfig(e2eRegion))
	want := sampleState()

	t.Run("awsstore writes, tsstate reads", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		loc := compatLocator("/compat/from-awsstore")
		as := newAWSStore(t, loc)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if err := as.WriteState(k, want[k]); err != nil {
				t.Fatalf("awsstore WriteState(%s): %v", k, err)
			}
		}
		checkParameter(t, c, "/compat/from-awsstore")

		// The key set as our store sees it.
		st, err := store.Open(ctx, loc)
		if err != nil {
			t.Fatalf("store.Open(%s): %v", loc, err)
		}
		keys, err := st.Keys(ctx)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if w := sortedKeys(want); !slices.Equal(keys, w) {
			t.Errorf("our store sees keys %v, want %v", keys, w)
		}

		// The values through the Tailscale adapter.
		ts, err := tsstate.New(ctx, loc)
		if err != nil {
			t.Fatalf("tsstate.New(%s): %v", loc, err)
		}
		defer ts.Close()
		for k, v := range want {
			got, err := ts.ReadState(k)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("tsstate ReadState(%s) = %d bytes, %v; want the %d bytes awsstore wrote", k, len(got), err, len(v))
			}
		}
		if _, err := ts.ReadState("_absent"); err != ipn.ErrStateNotExist {
			t.Errorf("tsstate ReadState of an absent key: %v, want ipn.ErrStateNotExist", err)
		}
	})

	t.Run("tsstate writes, awsstore reads", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const name = "/compat/from-tsstate"
		loc := compatLocator(name)
		ts, err := tsstate.New(ctx, loc)
		if err != nil {
			t.Fatalf("tsstate.New(%s): %v", loc, err)
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if err := ts.WriteState(k, want[k]); err != nil {
				t.Fatalf("tsstate WriteState(%s): %v", k, err)
			}
		}
		if err := ts.Close(); err != nil {
			t.Fatal(err)
		}
		p := checkParameter(t, c, name)
		if p.Tier != types.ParameterTierStandard {
			t.Errorf("%s is tier %s, want Standard for a state this small", name, p.Tier)
		}
		if n := countUnder(t, c, "/compat/from-tsstate"); n != 1 {
			t.Errorf("%d parameters under %s, want the single one awsstore reads", n, name)
		}

		// The key set as awsstore decodes it (mem.Store.LoadFromJSON is a
		// json.Unmarshal into this map type).
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		var decoded map[ipn.StateKey][]byte
		if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &decoded); err != nil {
			t.Fatalf("the parameter our store wrote is not awsstore's JSON: %v", err)
		}
		if got, w := sortedKeys(decoded), sortedKeys(want); !slices.Equal(got, w) {
			t.Errorf("awsstore's format holds keys %v, want %v", got, w)
		}

		// The values through awsstore itself.
		as := newAWSStore(t, loc)
		for k, v := range want {
			got, err := as.ReadState(k)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("awsstore ReadState(%s) = %d bytes, %v; want the %d bytes tsstate wrote", k, len(got), err, len(v))
			}
		}

		// And back: awsstore changes the state, our store reads the change.
		if err := as.WriteState("_machinekey", []byte("privkey:rotated")); err != nil {
			t.Fatal(err)
		}
		if err := as.WriteState("_serve/a1b2", nil); err != nil {
			t.Fatal(err)
		}
		ts, err = tsstate.New(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
		if got, err := ts.ReadState("_machinekey"); err != nil || string(got) != "privkey:rotated" {
			t.Errorf("after awsstore's write, tsstate reads _machinekey = %q, %v", got, err)
		}
		if _, err := ts.ReadState("_serve/a1b2"); err != ipn.ErrStateNotExist {
			t.Errorf("after awsstore's delete, tsstate reads _serve/a1b2: %v, want ipn.ErrStateNotExist", err)
		}
	})
}

// checkParameter asserts that name is a SecureString under the compat key
// and returns its metadata.
func checkParameter(t *testing.T, c *ssm.Client, name string) types.ParameterMetadata {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{name}}},
	})
	if err != nil {
		t.Fatalf("DescribeParameters %s: %v", name, err)
	}
	if len(out.Parameters) != 1 {
		t.Fatalf("DescribeParameters %s: %d parameters, want 1", name, len(out.Parameters))
	}
	p := out.Parameters[0]
	if p.Type != types.ParameterTypeSecureString || aws.ToString(p.KeyId) != compatAlias {
		t.Errorf("%s is %s under %q, want SecureString under %s", name, p.Type, aws.ToString(p.KeyId), compatAlias)
	}
	return p
}

// countUnder counts the parameters whose names begin with prefix.
func countUnder(t *testing.T, c *ssm.Client, prefix string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	in := &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{prefix}}}}
	for p := ssm.NewDescribeParametersPaginator(c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeParameters under %s: %v", prefix, err)
		}
		n += len(page.Parameters)
	}
	return n
}

func sortedKeys[V any](m map[ipn.StateKey]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, string(k))
	}
	slices.Sort(ks)
	return ks
}

// The same node lifecycle — first start with login, then a restart — on
// our store and on Tailscale's awsstore, side by side on one endpoint, with
// the SSM calls each made, counted at the endpoint.
func TestSideBySideCalls(t *testing.T) {
	ep := compatEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ours := tsnettest.RunLifecycle(t, tsnettest.StartTailnet(t), ep, "ours", func() (ipn.StateStore, error) {
		return tsstate.New(ctx, compatLocator("/side/ours"))
	})
	theirs := tsnettest.RunLifecycle(t, tsnettest.StartTailnet(t), ep, "theirs", func() (ipn.StateStore, error) {
		arn, opts, err := awsstore.ParseARNAndOpts(compatLocator("/side/theirs"))
		if err != nil {
			return nil, err
		}
		return awsstore.New(logger.Discard, arn, opts...)
	})
	t.Logf("first start, tsstate:  %v", ours.First)
	t.Logf("first start, awsstore: %v", theirs.First)
	t.Logf("restart,     tsstate:  %v", ours.Restart)
	t.Logf("restart,     awsstore: %v", theirs.Restart)
	t.Logf("keys written on first start: %v; on restart: %v", ours.First.Keys, ours.Restart.Keys)

	// Tailscale makes the same WriteState calls whatever the store.
	if ours.First.WriteState != theirs.First.WriteState || ours.Restart.WriteState != theirs.Restart.WriteState {
		t.Errorf("WriteState calls differ: ours %d+%d, awsstore %d+%d", ours.First.WriteState, ours.Restart.WriteState, theirs.First.WriteState, theirs.Restart.WriteState)
	}
	// awsstore puts the whole state on every WriteState, plus an empty
	// state when the parameter does not exist yet.
	if got, w := theirs.First.Calls["ssm.PutParameter"], theirs.First.WriteState+1; got != w {
		t.Errorf("awsstore first start: %d PutParameter, want %d (one per WriteState plus the initial empty state)", got, w)
	}
	if got, w := theirs.Restart.Calls["ssm.PutParameter"], theirs.Restart.WriteState; got != w {
		t.Errorf("awsstore restart: %d PutParameter, want %d (one per WriteState)", got, w)
	}
	// Ours never puts a value that is already stored: an unchanged write
	// costs no call, and a restart with nothing new writes nothing.
	if got, most := ours.Restart.Calls["ssm.PutParameter"], ours.Restart.WriteState-ours.Restart.Unchanged; got > most {
		t.Errorf("tsstate restart: %d PutParameter for %d changing writes", got, most)
	}
	if got, most := ours.First.Calls["ssm.PutParameter"], ours.First.WriteState; got > most {
		t.Errorf("tsstate first start: %d PutParameter for %d writes", got, most)
	}
}
