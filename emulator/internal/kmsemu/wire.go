package kmsemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// epoch is a timestamp as AWS JSON 1.1 sends it: seconds since the epoch,
// as a number with a fraction.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

func epochPtr(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	e := epoch(*t)
	return &e
}

// keyMetadata is the KeyMetadata shape of the KMS API model.
type keyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                epoch
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *epoch `json:",omitempty"`
	Origin                      string
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string                  `json:",omitempty"`
	SigningAlgorithms           []string                  `json:",omitempty"`
	MultiRegion                 bool                      `json:"MultiRegion"`
	MultiRegionConfiguration    *multiRegionConfiguration `json:",omitempty"`
	PendingDeletionWindowInDays int                       `json:",omitempty"`
	CurrentKeyMaterialId        string                    `json:",omitempty"`
}

type multiRegionKey struct {
	Arn    string
	Region string
}

type multiRegionConfiguration struct {
	MultiRegionKeyType string
	PrimaryKey         multiRegionKey
	ReplicaKeys        []multiRegionKey
}

// metadata renders k. Callers hold s.mu.
func (s *Service) metadata(k *key) keyMetadata {
	md := keyMetadata{
		AWSAccountId: k.Account, KeyId: k.ID, Arn: k.ARN, CreationDate: epoch(k.Created),
		Enabled: k.State == stateEnabled, Description: k.Description, KeyUsage: k.Usage,
		KeyState: k.State, DeletionDate: epochPtr(k.DeletionDate), Origin: "AWS_KMS",
		KeyManager: k.Manager, CustomerMasterKeySpec: k.Spec, KeySpec: k.Spec,
		EncryptionAlgorithms: encryptionAlgorithms(k), SigningAlgorithms: signingAlgorithms(k),
		MultiRegion: k.MultiRegion,
	}
	if k.State == statePendingDeletion {
		md.PendingDeletionWindowInDays = k.PendingWindow
	}
	if m := k.current(); m != nil {
		md.CurrentKeyMaterialId = m.ID
	}
	if k.MultiRegion {
		cfg := &multiRegionConfiguration{MultiRegionKeyType: "PRIMARY",
			PrimaryKey:  multiRegionKey{Arn: s.keyARN(k.PrimaryRegion, k.Account, k.ID), Region: k.PrimaryRegion},
			ReplicaKeys: []multiRegionKey{}}
		if k.Region != k.PrimaryRegion {
			cfg.MultiRegionKeyType = "REPLICA"
		}
		for _, rk := range s.replicas(k) {
			cfg.ReplicaKeys = append(cfg.ReplicaKeys, multiRegionKey{Arn: rk.ARN, Region: rk.Region})
		}
		md.MultiRegionConfiguration = cfg
	}
	return md
}

// Handlers returns the wire operations by name, for the "TrentService"
// target prefix.
func (s *Service) Handlers() map[string]awsapi.Handler {
	ops := map[string]func(*call, []byte) (any, error){
		"CreateKey":                       s.createKey,
		"DescribeKey":                     s.describeKey,
		"ListKeys":                        s.listKeys,
		"CreateAlias":                     s.createAlias,
		"UpdateAlias":                     s.updateAlias,
		"DeleteAlias":                     s.deleteAlias,
		"ListAliases":                     s.listAliases,
		"Encrypt":                         s.encrypt,
		"Decrypt":                         s.decrypt,
		"GenerateDataKey":                 s.generateDataKey,
		"GenerateDataKeyWithoutPlaintext": s.generateDataKeyWithoutPlaintext,
		"ReEncrypt":                       s.reEncrypt,
		"EnableKey":                       s.enableKey,
		"DisableKey":                      s.disableKey,
		"ScheduleKeyDeletion":             s.scheduleKeyDeletion,
		"CancelKeyDeletion":               s.cancelKeyDeletion,
		"EnableKeyRotation":               s.enableKeyRotation,
		"DisableKeyRotation":              s.disableKeyRotation,
		"GetKeyRotationStatus":            s.getKeyRotationStatus,
		"RotateKeyOnDemand":               s.rotateKeyOnDemand,
		"ListKeyRotations":                s.listKeyRotations,
		"ReplicateKey":                    s.replicateKey,
		"GetKeyPolicy":                    s.getKeyPolicy,
		"PutKeyPolicy":                    s.putKeyPolicy,
	}
	hs := make(map[string]awsapi.Handler, len(ops))
	for name, fn := range ops {
		hs[name] = func(r *awsapi.Request, body []byte) (any, error) {
			c := &call{r: withTime(r), op: name}
			out, err := fn(c, body)
			s.record(c, err)
			return out, err
		}
	}
	return hs
}

// decode reads a request body; an empty body is an empty request.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return awsapi.Errorf("SerializationException", "could not parse request body: %v", err)
	}
	return nil
}

// required is the model's validation of a missing required member.
// Form: AWS's "1 validation error detected: Value null at 'keyId' failed to
// satisfy constraint: Member must not be null" (Coral validation messages).
func required(member string, present bool) error {
	if present {
		return nil
	}
	return awsapi.Errorf("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// rangeError is the model's validation of an integer out of its range, as in
// kms.snapshot.json test_generate_random_invalid_number_of_bytes.
func rangeError(member string, v, min, max int) error {
	if v < min {
		return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", v, member, min)
	}
	if v > max {
		return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", v, member, max)
	}
	return nil
}

func enumError(member, v, set string) error {
	return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, member, set)
}

// page cuts items (sorted by name) at marker and limit. The marker is the
// base64 of the name of the first item of the next page.
func page[T any](items []T, name func(T) string, marker string, limit *int) (out []T, next string, err error) {
	n := 100 // ListKeys/ListAliases default page size (KMS API reference)
	if limit != nil {
		if err := rangeError("limit", *limit, 1, 1000); err != nil {
			return nil, "", err
		}
		n = *limit
	}
	start := 0
	if marker != "" {
		b, derr := base64.RawURLEncoding.DecodeString(marker)
		if derr != nil {
			return nil, "", awsapi.Errorf("InvalidMarkerException", "Invalid marker %s", marker)
		}
		for start < len(items) && name(items[start]) < string(b) {
			start++
		}
	}
	end := min(start+n, len(items))
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(name(items[end])))
	}
	return items[start:end], next, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("kmsemu: marshal %T: %v", v, err))
	}
	return string(b)
}
