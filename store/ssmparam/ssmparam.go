// Package ssmparam is the store's backend over AWS SSM Parameter Store: the
// whole state in one SecureString parameter, in exactly the format
// Tailscale's ipn/store/awsstore writes while it fits, and beyond that
// compressed and split over several parameters under a manifest that is
// committed last. docs/format.md describes the format and the commit
// protocol.
package ssmparam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/storeerr"
)

// Client is the part of *ssm.Client the backend uses.
type Client interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	DeleteParameter(ctx context.Context, in *ssm.DeleteParameterInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
	DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error)
}

var _ Client = (*ssm.Client)(nil)

// DefaultKey is the key SSM uses when none is configured; it is named
// explicitly on every put so that a parameter under another key moves to it.
const DefaultKey = "alias/aws/ssm"

// DefaultTimeout bounds a Load or a Save whose context has no deadline.
const DefaultTimeout = 2 * time.Minute

// Config configures a Backend.
type Config struct {
	// Client makes the SSM calls; *ssm.Client satisfies it. Give it the
	// retryer from Retryer (NewFromConfig and Dial do).
	Client Client
	// ParameterName is the main parameter's name with its leading slash,
	// e.g. "/ts/node1".
	ParameterName string
	// ParameterARN names the parameter in errors and logs; optional.
	ParameterARN string
	// KMSKey is the key every SecureString is encrypted under (key id, key
	// ARN, alias/NAME or alias ARN); "" is SSM's default aws/ssm key.
	KMSKey string
	// Advanced stores parts as 8 KB Advanced parameters (charged monthly)
	// instead of 4 KB Standard ones.
	Advanced bool
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Reset lets Save replace content that Load could not decode.
	Reset bool
	// Timeout bounds each Load and Save whose context has no deadline;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// Keys, when set (NewFromConfig sets it), lets an error about a key
	// pending deletion name its deletion date, which SSM's error lacks.
	Keys storeerr.KeyDescriber
}

// Backend is a store.Backend over one SSM parameter (and, for large states,
// its parts). Like every Backend it is used from one goroutine at a time.
type Backend struct {
	c    Config
	log  *slog.Logger
	name string // for messages: the ARN if known, else the name

	// What this backend last read or committed.
	version int64  // main parameter's version; 0 = absent
	gen     uint64 // generation of the manifest in effect; 0 = single parameter
	parts   int    // parts of gen
	onSide  bool   // the main parameter is absent and the side parameter holds the state
	corrupt error  // why the content did not decode, if it did not

	// skipped are generations whose part names another writer (or a crashed
	// one) took; their parts are removed after our next commit.
	skipped []uint64
	// pending is a commit whose outcome is unknown (the call failed in a way
	// that may have applied it).
	pending *pendingCommit
	// lastSweep is when sweep last listed parts (zero: not yet).
	lastSweep time.Time
	// mayHaveGarbage is set by what can leave parts behind that this
	// backend knows of: a loaded state that was multi-part or on the side
	// parameter, or a multi-part generation this backend committed,
	// superseded or abandoned. Only then does the sweep list parts.
	mayHaveGarbage bool
	// conflicted is the conflict this backend detected; it refuses every
	// later Save with it until Load reads the state again.
	conflicted error
}

type pendingCommit struct {
	content  string
	gen      uint64
	parts    int
	oldGen   uint64
	oldParts int
}

// New returns a Backend for the parameter c names. It makes no AWS call.
func New(ctx context.Context, c Config) (*Backend, error) {
	if c.Client == nil {
		return nil, errors.New("ssmparam: Config.Client is nil")
	}
	if c.ParameterName == "" {
		return nil, errors.New("ssmparam: Config.ParameterName is empty")
	}
	b := &Backend{c: c, log: c.Logger, name: c.ParameterName}
	if c.ParameterARN != "" {
		b.name = c.ParameterARN
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if c.Timeout <= 0 {
		b.c.Timeout = DefaultTimeout
	}
	if c.KMSKey == "" {
		b.log.WarnContext(ctx, "SSM state is encrypted under the AWS managed key aws/ssm: any principal with ssm:GetParameter on the parameter can read it; name a customer key with ?kmsKey= to close that",
			"parameter", b.name)
	}
	return b, nil
}

func (b *Backend) key() string {
	if b.c.KMSKey == "" {
		return DefaultKey
	}
	return b.c.KMSKey
}

func (b *Backend) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.c.Timeout)
}

// Close releases nothing: the SSM client belongs to the caller.
func (b *Backend) Close() error { return nil }

// Load reads the state. It never writes.
func (b *Backend) Load(ctx context.Context) (_ map[string][]byte, err error) {
	var loadErr error
	defer func() { err = b.explain(storeerr.OpRead, err) }()
	ctx, cancel := b.bound(ctx)
	defer cancel()
	var (
		state map[string][]byte
		m     *manifest
	)
	// A writer in another process deletes superseded parts right after it
	// commits, so a reader that fetched the old manifest can find its parts
	// gone. Content that does not decode is only corrupt if the main
	// parameter is still the version that was decoded; otherwise the load
	// starts again from the newer commit (a few times at most).
	for attempt := 0; ; attempt++ {
		main, side, err := b.getMain(ctx)
		if err != nil {
			return nil, err
		}
		if attempt > 0 && main != nil && main.Version == b.version {
			break // unchanged: the error of the last decode stands
		}
		b.corrupt, b.conflicted, b.pending = nil, nil, nil
		b.gen, b.parts, b.onSide, b.version = 0, 0, false, 0
		var src *types.Parameter
		switch {
		case main != nil:
			src, b.version = main, main.Version
		case side != nil:
			// A move (delete and recreate of the main parameter) was cut
			// short after the delete: the side parameter holds the state.
			src, b.onSide = side, true
		default:
			return map[string][]byte{}, nil
		}
		state, m, err = b.decode(ctx, aws.ToString(src.Name), aws.ToString(src.Value))
		if err == nil || !errors.Is(err, errCorrupt) || main == nil || attempt == 3 {
			loadErr = err
			break
		}
		loadErr = err
	}
	err = loadErr
	if m != nil {
		// Even when its parts are bad: they are superseded by the next
		// commit and removed then.
		b.gen, b.parts = m.Generation, m.Parts
	}
	if b.gen != 0 || b.onSide {
		b.mayHaveGarbage = true
	}
	if err != nil {
		if !errors.Is(err, errCorrupt) {
			return nil, err
		}
		b.corrupt = err
		if !b.c.Reset {
			return nil, err
		}
		b.log.WarnContext(ctx, "SSM state does not decode; starting from an empty state that the next write stores over it (reset)",
			"parameter", b.name, "err", err)
		return map[string][]byte{}, nil
	}
	return state, nil
}

// getMain fetches the main and the side parameter in one call.
func (b *Backend) getMain(ctx context.Context) (main, side *types.Parameter, err error) {
	out, err := b.c.Client.GetParameters(ctx, &ssm.GetParametersInput{
		Names:          []string{b.c.ParameterName, sideName(b.c.ParameterName)},
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read SSM parameter %s: %w", b.name, err)
	}
	for i := range out.Parameters {
		p := &out.Parameters[i]
		switch aws.ToString(p.Name) {
		case b.c.ParameterName:
			main = p
		case sideName(b.c.ParameterName):
			side = p
		}
	}
	return main, side, nil
}

func (b *Backend) corruptf(param, format string, args ...any) error {
	return fmt.Errorf("%w: SSM parameter %s: %s; fix or delete it, or open the store with reset to overwrite it",
		errCorrupt, param, fmt.Sprintf(format, args...))
}

// decode turns a main parameter's content into the state, fetching parts
// when it is a manifest.
func (b *Backend) decode(ctx context.Context, param, value string) (map[string][]byte, *manifest, error) {
	if !isManifest([]byte(value)) {
		state, err := decodeState([]byte(value))
		if err != nil {
			return nil, nil, b.corruptf(param, "%v", err)
		}
		return state, nil, nil
	}
	m, err := parseManifest([]byte(value))
	if err != nil {
		return nil, nil, b.corruptf(param, "%v", err)
	}
	names := make([]string, m.Parts)
	for i := range names {
		names[i] = partName(b.c.ParameterName, m.Generation, i)
	}
	chunks := make([][]byte, m.Parts)
	for start := 0; start < len(names); start += 10 {
		batch := names[start:min(start+10, len(names))]
		out, err := b.c.Client.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, nil, fmt.Errorf("read parts of SSM parameter %s: %w", b.name, err)
		}
		got := map[string]string{}
		for _, p := range out.Parameters {
			got[aws.ToString(p.Name)] = aws.ToString(p.Value)
		}
		for i, n := range batch {
			v, ok := got[n]
			if !ok {
				return nil, m, b.corruptf(param, "part %d (%s) of generation %d is missing", start+i, n, m.Generation)
			}
			if chunks[start+i], err = decodePart(m, start+i, v); err != nil {
				return nil, m, b.corruptf(param, "%s: %v", n, err)
			}
		}
	}
	encoded, err := join(m, chunks)
	if err != nil {
		return nil, m, b.corruptf(param, "generation %d: %v", m.Generation, err)
	}
	state, err := decodeState(encoded)
	if err != nil {
		return nil, m, b.corruptf(param, "generation %d: %v", m.Generation, err)
	}
	return state, m, nil
}

// Save commits state: parts first (if any), the main parameter last.
func (b *Backend) Save(ctx context.Context, state map[string][]byte) (err error) {
	defer func() { err = b.explain(storeerr.OpWrite, err) }()
	if b.corrupt != nil && !b.c.Reset {
		return fmt.Errorf("refusing to overwrite SSM parameter %s, whose content does not decode (open the store with reset to replace it): %w", b.name, b.corrupt)
	}
	if b.conflicted != nil {
		return fmt.Errorf("%w (detected by an earlier write; this store writes no more until it is reopened)", b.conflicted)
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	encoded, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("encode state for SSM parameter %s: %w", b.name, err)
	}
	// No read before the write: the commit's returned version shows
	// whether another writer wrote since (see commit). Only a commit whose
	// outcome is unknown needs a read to settle.
	if b.pending != nil {
		if err := b.settlePending(ctx); err != nil {
			return err
		}
	}

	limit := StandardValueLimit
	if b.c.Advanced {
		limit = AdvancedValueLimit
	}
	content, gen, nparts := string(encoded), uint64(0), 0
	if len(encoded) > limit {
		b.mayHaveGarbage = true // parts are written now, and may be abandoned
		var m *manifest
		if m, err = b.writeParts(ctx, encoded); err != nil {
			return err
		}
		gen, nparts = m.Generation, m.Parts
		mb, err := jsonMarshal(m)
		if err != nil {
			return err
		}
		content = string(mb)
	}
	p := &pendingCommit{content: content, gen: gen, parts: nparts, oldGen: b.gen, oldParts: b.parts}
	if p.oldGen != 0 || len(b.skipped) > 0 {
		b.mayHaveGarbage = true
	}
	if err := b.commit(ctx, p); err != nil {
		return err
	}
	b.cleanup(ctx, p)
	b.sweep(ctx) // sweep.go: parts of interrupted writers
	return nil
}

// settlePending finds out whether a commit whose call failed in a way that
// may have applied it (timeout, connection error) did land: the one read of
// the main parameter a Save can need before writing, and only then.
func (b *Backend) settlePending(ctx context.Context) error {
	p := b.pending
	cur, value, err := b.currentVersion(ctx, true)
	if err != nil {
		return err
	}
	b.pending = nil
	switch {
	case cur == b.version:
		// It did not land. Its parts (if any) are garbage: the next
		// generation goes past it and they are removed after the commit.
		if p.gen != 0 {
			b.skipped = append(b.skipped, p.gen)
			b.mayHaveGarbage = true
		}
		return nil
	case value == p.content:
		// Our own earlier commit did land after all.
		b.version, b.gen, b.parts, b.onSide = cur, p.gen, p.parts, false
		b.cleanup(ctx, p)
		return nil
	}
	return b.conflict(cur)
}

// conflict records that another writer changed the main parameter (now at
// version cur) and returns the error; Save refuses to write from then on.
func (b *Backend) conflict(cur int64) error {
	b.conflicted = fmt.Errorf("%w: SSM parameter %s is at version %d but this store last saw version %d: another writer changed it; reopen the store to continue from that state, and make sure one process writes a parameter",
		errConflict, b.name, cur, b.version)
	return b.conflicted
}

// currentVersion reads the main parameter's version (0 when absent), and
// its decrypted value when withValue.
func (b *Backend) currentVersion(ctx context.Context, withValue bool) (int64, string, error) {
	out, err := b.c.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(b.c.ParameterName), WithDecryption: aws.Bool(withValue)})
	if err != nil {
		if errors.As(err, new(*types.ParameterNotFound)) {
			return 0, "", nil
		}
		return 0, "", fmt.Errorf("check version of SSM parameter %s: %w", b.name, err)
	}
	return out.Parameter.Version, aws.ToString(out.Parameter.Value), nil
}

// writeParts writes a new generation's parts, each created without
// Overwrite so that two writers can never write the same generation. No read
// precedes them: a writer that committed once since our last read or write,
// from the same base, used this very generation, so part 0 is taken and we
// stop after one put (a writer further ahead has removed it; then only the
// commit's version shows the conflict). Only then is the main parameter read: changed → conflict
// (nothing of ours written); unchanged → the parts were left by a writer
// that crashed (or one racing us from the same base, whose commit will see
// the version jump): the generation is skipped and removed after our commit.
func (b *Backend) writeParts(ctx context.Context, encoded []byte) (*manifest, error) {
	gen := max(b.gen, uint64(max(b.version, 0))) + 1
	for _, s := range b.skipped {
		gen = max(gen, s+1)
	}
	for range 16 {
		m, parts, err := split(encoded, gen, b.c.Advanced)
		if err != nil {
			return nil, fmt.Errorf("SSM parameter %s: %w", b.name, err)
		}
		taken, err := b.putParts(ctx, gen, parts)
		if err != nil {
			// Parts written so far are garbage: remove them after the
			// next commit.
			b.skipped = append(b.skipped, gen)
			return nil, err
		}
		if !taken {
			return m, nil
		}
		cur, _, err := b.currentVersion(ctx, false)
		if err != nil {
			return nil, err
		}
		if cur != b.version {
			b.skipped = append(b.skipped, gen)
			return nil, b.conflict(cur)
		}
		b.log.WarnContext(ctx, "SSM state parts of an uncommitted generation exist (a writer crashed, or another is writing); skipping that generation",
			"parameter", b.name, "generation", gen)
		b.skipped = append(b.skipped, gen)
		gen++
	}
	b.conflicted = fmt.Errorf("%w: SSM parameter %s: 16 generations in a row are taken by uncommitted parts; another writer is active; reopen the store to continue, and make sure one process writes a parameter", errConflict, b.name)
	return nil, b.conflicted
}

// putParts writes parts in order; taken reports that a part's name exists.
func (b *Backend) putParts(ctx context.Context, gen uint64, parts []string) (taken bool, err error) {
	tier := types.ParameterTierStandard
	if b.c.Advanced {
		tier = types.ParameterTierAdvanced
	}
	for i, v := range parts {
		_, err := b.c.Client.PutParameter(ctx, &ssm.PutParameterInput{
			Name:      aws.String(partName(b.c.ParameterName, gen, i)),
			Value:     aws.String(v),
			Type:      types.ParameterTypeSecureString,
			KeyId:     aws.String(b.key()),
			Tier:      tier,
			Overwrite: aws.Bool(false),
		})
		if errors.As(err, new(*types.ParameterAlreadyExists)) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("write part %d of %d of SSM parameter %s: %w", i, len(parts), b.name, err)
		}
	}
	return false, nil
}

// commit writes the main parameter: the commit point.
func (b *Backend) commit(ctx context.Context, p *pendingCommit) error {
	in := b.mainPut(b.c.ParameterName, p.content)
	// Creating (no Overwrite) is SSM's compare-and-set: if we believe the
	// parameter does not exist, a writer that created it meanwhile wins and
	// we report a conflict.
	in.Overwrite = aws.Bool(b.version != 0)
	out, err := b.c.Client.PutParameter(ctx, in)
	var apiErr smithy.APIError
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "HierarchyTypeMismatchException":
		return b.move(ctx, p)
	case errors.As(err, new(*types.ParameterAlreadyExists)):
		return b.conflictOrOurs(ctx, p)
	default:
		if errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient {
			// A client error: the put did not happen.
			b.dropParts(ctx, p)
		} else {
			b.pending = p
		}
		return fmt.Errorf("commit SSM parameter %s: %w", b.name, err)
	}
	prev := b.version
	b.version, b.gen, b.parts = out.Version, p.gen, p.parts
	if prev != 0 && out.Version != prev+1 && !b.ownRetry(ctx, out, prev, p.content) {
		// Someone wrote since we last read or wrote (or a retried put
		// applied twice). Our state is the one committed now; theirs is
		// overwritten, and they see the jump at their next write.
		// SSM keeps the last 100 versions, so what was overwritten is not
		// lost: the error names the versions to read it back from.
		b.conflicted = fmt.Errorf("%w: SSM parameter %s: committed as version %d, but this store expected version %d: another writer wrote in between, and its write is overwritten (SSM still holds it: versions %d to %d, e.g. aws ssm get-parameter --with-decryption --name '%s:%d'); reopen the store to continue, and make sure one process writes a parameter",
			errConflict, b.name, out.Version, prev+1, prev+1, out.Version-1, b.c.ParameterName, out.Version-1)
		return b.conflicted
	}
	return nil
}

// ownRetry reports whether the versions between prev and out.Version were
// written by this very put, applied more than once because the SDK retried
// it after a response was lost. It reads each such version (GetParameter of
// "N:<version>", covered by ssm:GetParameter), and only when the put took
// enough attempts to explain the jump: otherwise it is a conflict, with no
// read.
func (b *Backend) ownRetry(ctx context.Context, out *ssm.PutParameterOutput, prev int64, content string) bool {
	res, ok := retry.GetAttemptResults(out.ResultMetadata)
	extra := out.Version - prev - 1
	if !ok || extra < 1 || extra > 3 || int64(len(res.Results)) <= extra {
		return false
	}
	for v := prev + 1; v < out.Version; v++ {
		o, err := b.c.Client.GetParameter(ctx, &ssm.GetParameterInput{
			Name:           aws.String(b.c.ParameterName + ":" + strconv.FormatInt(v, 10)),
			WithDecryption: aws.Bool(true),
		})
		if err != nil || o.Parameter == nil || aws.ToString(o.Parameter.Value) != content {
			return false
		}
	}
	b.log.InfoContext(ctx, "an SSM put was applied more than once (the SDK retried it after a lost response); not a conflict",
		"parameter", b.name, "version", out.Version)
	return true
}

// conflictOrOurs handles ParameterAlreadyExists on creating the main
// parameter: it is a conflict unless the content there is ours (a put the
// SDK retried after it had applied).
func (b *Backend) conflictOrOurs(ctx context.Context, p *pendingCommit) error {
	cur, value, err := b.currentVersion(ctx, true)
	if err != nil {
		return err
	}
	if value == p.content {
		b.version, b.gen, b.parts = cur, p.gen, p.parts
		return nil
	}
	b.dropParts(ctx, p)
	return b.conflict(cur)
}

func (b *Backend) mainPut(name, content string) *ssm.PutParameterInput {
	return &ssm.PutParameterInput{
		Name:  aws.String(name),
		Value: aws.String(content),
		Type:  types.ParameterTypeSecureString,
		KeyId: aws.String(b.key()),
		// Intelligent-Tiering as awsstore uses: Standard while the value
		// fits, and no error when the parameter is already Advanced (an
		// Advanced parameter cannot go back to Standard).
		Tier: types.ParameterTierIntelligentTiering,
	}
}

// move replaces the main parameter by deleting and recreating it, for a
// change SSM refuses in place (String to SecureString). The new content is
// first written to the side parameter, which Load reads when the main one
// is absent, so the state exists somewhere at every moment.
func (b *Backend) move(ctx context.Context, p *pendingCommit) error {
	side := sideName(b.c.ParameterName)
	in := b.mainPut(side, p.content)
	in.Overwrite = aws.Bool(true)
	if _, err := b.c.Client.PutParameter(ctx, in); err != nil {
		return fmt.Errorf("move SSM parameter %s: write side parameter %s: %w", b.name, side, err)
	}
	// Last check before the delete: the delete is not conditional.
	cur, _, err := b.currentVersion(ctx, false)
	if err != nil {
		return err
	}
	if cur != b.version {
		return b.conflict(cur)
	}
	if _, err := b.c.Client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(b.c.ParameterName)}); err != nil && !errors.As(err, new(*types.ParameterNotFound)) {
		return fmt.Errorf("move SSM parameter %s: delete it to recreate it as SecureString: %w", b.name, err)
	}
	b.version, b.onSide = 0, true
	in = b.mainPut(b.c.ParameterName, p.content)
	in.Overwrite = aws.Bool(false)
	out, err := b.c.Client.PutParameter(ctx, in)
	if errors.As(err, new(*types.ParameterAlreadyExists)) {
		return b.conflictOrOurs(ctx, p)
	}
	if err != nil {
		b.pending = p
		return fmt.Errorf("move SSM parameter %s: recreate it (the state is safe in %s): %w", b.name, side, err)
	}
	b.version, b.gen, b.parts = out.Version, p.gen, p.parts
	return nil
}

// cleanup removes what the commit superseded. Failures only leave garbage
// behind, so they are logged, not returned.
func (b *Backend) cleanup(ctx context.Context, p *pendingCommit) {
	var names []string
	if p.oldGen != 0 && p.oldGen != p.gen {
		for i := range p.oldParts {
			names = append(names, partName(b.c.ParameterName, p.oldGen, i))
		}
	}
	if b.onSide {
		names = append(names, sideName(b.c.ParameterName))
		b.onSide = false
	}
	b.deleteAll(ctx, names)
	// Skipped generations: we do not know how many parts they have; delete
	// batches until one finds nothing.
	var keep []uint64
	for _, g := range b.skipped {
		if g == p.gen {
			continue
		}
		if g > p.gen && p.gen != 0 {
			keep = append(keep, g)
			continue
		}
		for start := 0; start < maxParts; start += 10 {
			batch := make([]string, 0, 10)
			for i := start; i < start+10; i++ {
				batch = append(batch, partName(b.c.ParameterName, g, i))
			}
			if n := b.deleteAll(ctx, batch); n == 0 {
				break
			}
		}
	}
	b.skipped = keep
}

// dropParts removes the parts of a commit that certainly did not happen.
func (b *Backend) dropParts(ctx context.Context, p *pendingCommit) {
	if p.gen == 0 {
		return
	}
	names := make([]string, p.parts)
	for i := range names {
		names[i] = partName(b.c.ParameterName, p.gen, i)
	}
	b.deleteAll(ctx, names)
}

// deleteAll deletes names, 10 a call, and returns how many existed.
func (b *Backend) deleteAll(ctx context.Context, names []string) int {
	n := 0
	for start := 0; start < len(names); start += 10 {
		batch := names[start:min(start+10, len(names))]
		out, err := b.c.Client.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: batch})
		if err != nil {
			b.log.WarnContext(ctx, "could not delete superseded SSM parameters; they are garbage now", "parameter", b.name, "count", len(batch), "err", err)
			return n + 1
		}
		n += len(out.DeletedParameters)
	}
	return n
}

// Version reports the main parameter's version as last read or written
// (0 when absent), and the generation of its manifest (0 when the state is
// in the main parameter itself).
func (b *Backend) Version() (version int64, generation uint64) { return b.version, b.gen }

func (b *Backend) String() string { return "ssmparam(" + strconv.Quote(b.name) + ")" }
