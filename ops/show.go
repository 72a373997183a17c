package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/ssmparam"
	"github.com/ssmstate/ssmstate/storeerr"
)

// Info describes a stored state without its values. The JSON form is what
// `ssmstate show --json` prints; field names are stable.
type Info struct {
	Locator string `json:"locator"`
	// Backend is "ssm", "file" or "mem".
	Backend string `json:"backend"`
	// Format is "absent", "single" (Tailscale's awsstore format in one
	// parameter), "multi-part" (manifest and compressed parts) or "file".
	Format string `json:"format"`
	// Keys and Bytes count the state's keys and the total size of their
	// values.
	Keys  int `json:"keys"`
	Bytes int `json:"bytes"`
	// EncodedSize is the size of the Tailscale-format JSON encoding.
	EncodedSize int64 `json:"encodedSize"`
	// Generation is the manifest's generation (multi-part only).
	Generation uint64 `json:"generation,omitempty"`
	// Parameters are the SSM parameters holding the state, main first.
	Parameters []ParameterInfo `json:"parameters,omitempty"`
	// Key is the KMS key the locator names (or aws/ssm), when SSM.
	Key *KeyInfo `json:"key,omitempty"`
	// Replicas are the state's copies in the other Regions of its
	// multi-Region key (see Replicas).
	Replicas []ReplicaInfo `json:"replicas,omitempty"`
	// Warnings are facts an operator should act on (a parameter under
	// another key than the locator's, rotation off, …).
	Warnings []string `json:"warnings,omitempty"`
}

// ParameterInfo is one SSM parameter's metadata.
type ParameterInfo struct {
	Name string `json:"name"`
	// Role is "main", "part" or "moving".
	Role     string `json:"role"`
	Type     string `json:"type"`
	Tier     string `json:"tier"`
	Version  int64  `json:"version"`
	Versions int    `json:"versions"` // versions SSM keeps (at most 100)
	// KeyID is the key reference SSM recorded at the last write.
	KeyID        string    `json:"keyId"`
	LastModified time.Time `json:"lastModified"`
	LastModifier string    `json:"lastModifiedBy"`
}

// KeyInfo describes a KMS key (never its material).
type KeyInfo struct {
	// Configured is the locator's kmsKey ("" for aws/ssm).
	Configured  string   `json:"configured"`
	ARN         string   `json:"arn"`
	ID          string   `json:"id"`
	Aliases     []string `json:"aliases"`
	Manager     string   `json:"manager"` // CUSTOMER or AWS
	State       string   `json:"state"`
	MultiRegion bool     `json:"multiRegion"`
	// MultiRegionRole is PRIMARY or REPLICA for a multi-Region key.
	MultiRegionRole string `json:"multiRegionRole,omitempty"`
	// ReplicaRegions are the key's other Regions (the primary's and the
	// replicas'), without its own.
	ReplicaRegions []string `json:"replicaRegions,omitempty"`
	Rotation       Rotation `json:"rotation"`
}

// Rotation is a key's automatic rotation status.
type Rotation struct {
	// Enabled is nil when it could not be read (no kms:GetKeyRotationStatus,
	// or an AWS managed key, which AWS rotates yearly itself).
	Enabled      *bool      `json:"enabled"`
	PeriodDays   int32      `json:"periodDays,omitempty"`
	NextRotation *time.Time `json:"nextRotation,omitempty"`
	Note         string     `json:"note,omitempty"`
}

// Show describes the state loc names: its format, its parameters (tier,
// version, last change, key) and the KMS key with its aliases and rotation
// status. It reads the state to count keys but never returns values.
func Show(ctx context.Context, loc string, o Options) (*Info, error) {
	l, err := locator.Parse(loc)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, loc, o.storeOptions()...)
	if err != nil {
		return nil, err
	}
	list, err := s.List(ctx)
	s.Close()
	if err != nil {
		return nil, err
	}
	info := &Info{Locator: l.String(), Backend: l.Kind.String(), Keys: len(list)}
	state := make(map[string][]byte, len(list))
	for _, k := range list {
		info.Bytes += k.Size
		state[k.Key] = make([]byte, k.Size) // sizes only: the encoding's length depends on nothing else
	}
	if l.Kind != locator.KindSSM {
		info.Format = "file"
		if l.Kind == locator.KindMem {
			info.Format = "mem"
		}
		if enc, err := EncodeState(state); err == nil {
			info.EncodedSize = int64(len(enc))
		}
		return info, nil
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	c, err := o.clients(ctx, l.Region)
	if err != nil {
		return nil, err
	}
	subj := storeerr.Subject{Op: storeerr.OpRead, Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey}
	layout, err := ssmparam.Inspect(ctx, c.ssm, l.ParameterName)
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	info.Format, info.Generation, info.EncodedSize = layout.Format, layout.Generation, layout.Size
	if info.Parameters, err = describeParameters(ctx, c.ssm, layout); err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	keyRef := l.KMSKey
	if keyRef == "" {
		keyRef = ssmparam.DefaultKey
	}
	ki, err := describeKey(ctx, c.kms, keyRef)
	if err != nil {
		return nil, storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpOpen, Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey})
	}
	ki.Configured = l.KMSKey
	info.Key = ki
	if ki.MultiRegion {
		d, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ki.ARN)})
		if err != nil {
			return nil, storeerr.Classify(err, subj)
		}
		if info.Replicas, err = Replicas(ctx, loc, nil, d.KeyMetadata, o); err != nil {
			return nil, err
		}
	}
	info.Warnings = warnings(ctx, c.kms, l, info)
	return info, nil
}

// describeParameters returns the metadata of every parameter of layout.
func describeParameters(ctx context.Context, c *ssm.Client, layout *ssmparam.Layout) ([]ParameterInfo, error) {
	names := layout.Names()
	if len(names) == 0 {
		return nil, nil
	}
	meta, err := parameterMetadata(ctx, c, names)
	if err != nil {
		return nil, err
	}
	var out []ParameterInfo
	for i, n := range names {
		m, ok := meta[n]
		if !ok {
			continue // removed meanwhile; Show reports what is there
		}
		role := "part"
		switch {
		case i == 0 && layout.Moving != "":
			role = "moving"
		case i == 0:
			role = "main"
		}
		p := ParameterInfo{
			Name: n, Role: role, Type: string(m.Type), Tier: string(m.Tier), Version: m.Version,
			KeyID: aws.ToString(m.KeyId), LastModified: aws.ToTime(m.LastModifiedDate).UTC(), LastModifier: aws.ToString(m.LastModifiedUser),
		}
		if role != "part" {
			// Parts are written once and never overwritten: one version.
			if p.Versions, err = countVersions(ctx, c, n); err != nil {
				return nil, err
			}
		} else {
			p.Versions = 1
		}
		out = append(out, p)
	}
	return out, nil
}

// parameterMetadata describes names, 50 names per DescribeParameters filter.
func parameterMetadata(ctx context.Context, c *ssm.Client, names []string) (map[string]ssmtypes.ParameterMetadata, error) {
	out := map[string]ssmtypes.ParameterMetadata{}
	for start := 0; start < len(names); start += 50 {
		batch := names[start:min(start+50, len(names))]
		in := &ssm.DescribeParametersInput{
			ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("Equals"), Values: batch}},
			MaxResults:       aws.Int32(50),
		}
		for p := ssm.NewDescribeParametersPaginator(c, in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe SSM parameters %s…: %w", batch[0], err)
			}
			for _, m := range page.Parameters {
				out[aws.ToString(m.Name)] = m
			}
		}
	}
	return out, nil
}

// listParameters describes every parameter whose name is name or begins
// with prefix (the main parameter and all its parts, current or not).
func listParameters(ctx context.Context, c *ssm.Client, name string) ([]ssmtypes.ParameterMetadata, error) {
	in := &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{name}}},
		MaxResults:       aws.Int32(50),
	}
	var out []ssmtypes.ParameterMetadata
	for p := ssm.NewDescribeParametersPaginator(c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list SSM parameters beginning %s: %w", name, err)
		}
		for _, m := range page.Parameters {
			n := aws.ToString(m.Name)
			if n == name || strings.HasPrefix(n, ssmparam.PartPrefix(name)) || n == name+".moving" {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func countVersions(ctx context.Context, c *ssm.Client, name string) (int, error) {
	n := 0
	in := &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(50)}
	for p := ssm.NewGetParameterHistoryPaginator(c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("read the version history of SSM parameter %s: %w", name, err)
		}
		n += len(page.Parameters)
	}
	return n, nil
}

// describeKey describes a key with its aliases and rotation status.
func describeKey(ctx context.Context, c *kms.Client, ref string) (*KeyInfo, error) {
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	if err != nil {
		return nil, fmt.Errorf("describe KMS key %s: %w", ref, err)
	}
	m := d.KeyMetadata
	ki := &KeyInfo{
		ARN: aws.ToString(m.Arn), ID: aws.ToString(m.KeyId), Manager: string(m.KeyManager),
		State: string(m.KeyState), MultiRegion: aws.ToBool(m.MultiRegion), Aliases: []string{},
	}
	if mc := m.MultiRegionConfiguration; mc != nil {
		ki.MultiRegionRole = string(mc.MultiRegionKeyType)
		if mc.PrimaryKey != nil {
			ki.ReplicaRegions = append(ki.ReplicaRegions, aws.ToString(mc.PrimaryKey.Region))
		}
		for _, r := range mc.ReplicaKeys {
			ki.ReplicaRegions = append(ki.ReplicaRegions, aws.ToString(r.Region))
		}
		own := ""
		if a, err := arn.Parse(ki.ARN); err == nil {
			own = a.Region
		}
		ki.ReplicaRegions = slices.DeleteFunc(ki.ReplicaRegions, func(r string) bool { return r == own })
		slices.Sort(ki.ReplicaRegions)
	}
	// Aliases: best effort (needs kms:ListAliases).
	for p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{KeyId: m.KeyId}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, a := range page.Aliases {
			ki.Aliases = append(ki.Aliases, aws.ToString(a.AliasName))
		}
	}
	if strings.HasPrefix(ref, "alias/") && !slices.Contains(ki.Aliases, ref) {
		ki.Aliases = append(ki.Aliases, ref)
	}
	slices.Sort(ki.Aliases)
	ki.Rotation = rotationStatus(ctx, c, m)
	return ki, nil
}

func rotationStatus(ctx context.Context, c *kms.Client, m *kmstypes.KeyMetadata) Rotation {
	if m.KeyManager == kmstypes.KeyManagerTypeAws {
		return Rotation{Enabled: aws.Bool(true), Note: "AWS managed key: AWS rotates it every year"}
	}
	r, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: m.Arn})
	if err != nil {
		var e *storeerr.Error
		note := "unknown: " + err.Error()
		if errors.As(storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpRead}), &e) && e.Kind == storeerr.AccessDenied {
			note = "unknown: kms:GetKeyRotationStatus is not allowed"
		}
		return Rotation{Note: note}
	}
	out := Rotation{Enabled: aws.Bool(r.KeyRotationEnabled), PeriodDays: aws.ToInt32(r.RotationPeriodInDays)}
	if r.NextRotationDate != nil {
		t := r.NextRotationDate.UTC()
		out.NextRotation = &t
	}
	if m.MultiRegionConfiguration != nil && m.MultiRegionConfiguration.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica {
		out.Note = "a multi-Region replica rotates with its primary key"
	}
	return out
}

// warnings lists what an operator should act on.
func warnings(ctx context.Context, c *kms.Client, l locator.Locator, info *Info) []string {
	var w []string
	if l.KMSKey == "" {
		w = append(w, "the state is under the AWS managed key aws/ssm: any principal with ssm:GetParameter can read it; rotate it to a customer key with: ssmstate rotate LOCATOR --to-key alias/NAME")
	}
	if k := info.Key; k != nil && k.Manager == string(kmstypes.KeyManagerTypeCustomer) && k.Rotation.Enabled != nil && !*k.Rotation.Enabled && k.MultiRegionRole != string(kmstypes.MultiRegionKeyTypeReplica) {
		w = append(w, "automatic rotation of "+k.ARN+" is off; turn it on with: ssmstate rotate LOCATOR --enable-auto-rotation")
	}
	for _, r := range info.Replicas {
		if r.Status == ReplicaDiffers || r.Status == ReplicaUnreadable {
			w = append(w, fmt.Sprintf("the copy in %s is %s; %s", r.Region, r.Status, r.Fix))
		}
	}
	if info.Key == nil {
		return w
	}
	resolved := map[string]string{}
	for _, p := range info.Parameters {
		if p.KeyID == "" {
			continue
		}
		arn, ok := resolved[p.KeyID]
		if !ok {
			if d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(p.KeyID)}); err == nil {
				arn = aws.ToString(d.KeyMetadata.Arn)
			}
			resolved[p.KeyID] = arn
		}
		if arn != info.Key.ARN {
			w = append(w, fmt.Sprintf("SSM parameter %s is encrypted under %s, not under the locator's key; the next write moves it (or run ssmstate rotate)", p.Name, p.KeyID))
		}
	}
	return w
}
