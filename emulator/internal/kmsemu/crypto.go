package kmsemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"sort"
	"strings"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// call is one KMS operation in progress: what its audit event will say.
type call struct {
	r      *awsapi.Request
	op     string
	keyARN string
	encCtx map[string]string
}

// record audits c with its outcome. Calls SSM makes on a caller's behalf
// show ssm.amazonaws.com as source and agent, as CloudTrail does.
func (s *Service) record(c *call, err error) {
	r := c.r
	ev := awsapi.Event{
		Time:              r.Time,
		EventSource:       "kms.amazonaws.com",
		EventName:         c.op,
		Region:            r.Region,
		PrincipalARN:      r.Principal.ARN,
		Username:          username(r.Principal.ARN),
		AccessKeyID:       r.Principal.AccessKeyID,
		SourceIP:          r.SourceIP,
		UserAgent:         r.UserAgent,
		RequestID:         r.RequestID,
		ViaService:        r.ViaService,
		KeyARN:            c.keyARN,
		EncryptionContext: c.encCtx,
	}
	if r.ViaService != "" {
		svc := r.ViaService
		if i := strings.IndexByte(svc, '.'); i > 0 {
			svc = svc[:i] + ".amazonaws.com"
		}
		ev.SourceIP, ev.UserAgent = svc, svc
	}
	if c.keyARN != "" {
		ev.Resources = []string{c.keyARN}
	}
	if err != nil {
		if ae, ok := err.(*awsapi.Error); ok {
			ev.ErrorCode, ev.ErrorMessage = ae.Code, ae.Message
		} else {
			ev.ErrorCode, ev.ErrorMessage = "InternalFailure", "internal error"
		}
	}
	s.audit.Record(ev)
}

func username(principalARN string) string {
	if i := strings.LastIndexByte(principalARN, '/'); i >= 0 {
		return principalARN[i+1:]
	}
	if strings.HasSuffix(principalARN, ":root") {
		return "root"
	}
	return ""
}

// authorize asks the authorizer whether c's caller may perform action on k
// (nil for operations on no key, e.g. CreateKey), with the KMS condition keys
// of the request.
func (s *Service) authorize(c *call, action string, k *key, encCtx map[string]string) error {
	r := c.r
	conds := map[string][]string{"kms:CallerAccount": {r.Principal.Account}}
	if r.ViaService != "" {
		conds["kms:ViaService"] = []string{r.ViaService}
	}
	if len(encCtx) > 0 {
		keys := make([]string, 0, len(encCtx))
		for name, v := range encCtx {
			conds["kms:EncryptionContext:"+name] = []string{v}
			keys = append(keys, name)
		}
		sort.Strings(keys)
		conds["kms:EncryptionContextKeys"] = keys
	}
	check := awsapi.Check{Action: action, Resource: "*", Conditions: conds}
	if k != nil {
		check.Resource, check.ResourcePolicy, check.IsKMS = k.ARN, k.Policy, true
		conds["kms:KeySpec"] = []string{k.Spec}
		conds["kms:KeyUsage"] = []string{k.Usage}
	}
	return s.authz.Authorize(r, check)
}

// dryRunError is how KMS reports a DryRun that would have succeeded.
// Source: kms.snapshot.json test_generate_data_key_pair_dry_run.
func dryRunError() error {
	return awsapi.Errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
}

// invalidCiphertext has no message, as AWS sends it.
// Source: kms.snapshot.json test_encrypt_decrypt_encryption_context.
func invalidCiphertext() error { return awsapi.Code("InvalidCiphertextException") }

// incorrectKey is Decrypt/ReEncrypt naming a key other than the ciphertext's.
// Source: kms.snapshot.json test_re_encrypt_incorrect_source_key.
func incorrectKey() error {
	return awsapi.Errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
}

// wrongUsage is a key whose KeyUsage does not allow op.
// Source: kms.snapshot.json test_error_messaging_for_invalid_keys.
func wrongUsage(k *key, op string) error {
	return awsapi.Errorf("InvalidKeyUsageException", "%s key usage is %s which is not valid for %s.", k.ARN, k.Usage, op)
}

// wrongAlgorithm is an encryption algorithm the key spec does not support.
// Message form: kms.snapshot.json test_invalid_generate_mac ("Algorithm
// HMAC_SHA_256 is incompatible with key spec HMAC_224."), applied to
// encryption algorithms.
func wrongAlgorithm(k *key, alg string) error {
	return awsapi.Errorf("InvalidKeyUsageException", "Algorithm %s is incompatible with key spec %s.", alg, k.Spec)
}

// checkEncryptionUse checks that k can encrypt or decrypt with alg in op.
func checkEncryptionUse(k *key, op, alg string) error {
	if k.Usage != usageEncrypt {
		return wrongUsage(k, op)
	}
	if alg == "" {
		alg = algSymmetric
	}
	if !contains(encryptionAlgorithms(k), alg) {
		return wrongAlgorithm(k, alg)
	}
	return nil
}

func encryptionAlgorithms(k *key) []string {
	if k.Usage != usageEncrypt {
		return nil
	}
	if k.symmetric() {
		return []string{algSymmetric}
	}
	return []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
}

func signingAlgorithms(k *key) []string {
	if k.Usage != usageSign {
		return nil
	}
	return []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func oaepHash(alg string) hash.Hash {
	if alg == "RSAES_OAEP_SHA_1" {
		return sha1.New()
	}
	return sha256.New()
}

// encryptResult is what an encryption produced.
type encryptResult struct {
	blob       []byte
	key        *key
	materialID string
	alg        string
}

// encryptLocked is Encrypt, GenerateDataKey and ReEncrypt's destination
// half: resolve, authorize action, check state and usage, then (unless
// dryRun) encrypt. Callers hold s.mu.
func (s *Service) encryptLocked(c *call, action, op, keyRef string, plaintext []byte, encCtx map[string]string, alg string, dryRun bool) (*encryptResult, error) {
	k, err := s.resolve(c.r, keyRef)
	if err != nil {
		return nil, err
	}
	c.keyARN = k.ARN
	if err := s.admit(c, action, op, alg, k, encCtx); err != nil {
		return nil, err
	}
	if alg == "" {
		alg = algSymmetric
	}
	if !k.symmetric() && len(encCtx) > 0 {
		// Asymmetric keys take no encryption context (KMS API reference,
		// Encrypt: "EncryptionContext … not supported on asymmetric keys").
		return nil, awsapi.Errorf("ValidationException", "EncryptionContext is not supported with asymmetric KMS keys.")
	}
	if k.symmetric() && len(plaintext) > 4096 {
		// Source: kms.snapshot.json test_plaintext_size_for_encrypt.
		return nil, awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	}
	if dryRun {
		return nil, dryRunError()
	}
	if !k.symmetric() {
		h := oaepHash(alg)
		if max := k.private.PublicKey.Size() - 2*h.Size() - 2; len(plaintext) > max {
			// Source: kms.snapshot.json test_encrypt_validate_plaintext_size_per_key_type.
			return nil, awsapi.Errorf("ValidationException", "Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, k.Spec, max)
		}
		blob, err := rsa.EncryptOAEP(h, rand.Reader, &k.private.PublicKey, plaintext, nil)
		if err != nil {
			return nil, err
		}
		return &encryptResult{blob: blob, key: k, alg: alg}, nil
	}
	m := k.current()
	blob, err := sealBlob(k.ID, m, plaintext, encCtx)
	if err != nil {
		return nil, err
	}
	return &encryptResult{blob: blob, key: k, materialID: m.ID, alg: alg}, nil
}

// decryptResult is what a decryption produced.
type decryptResult struct {
	plaintext  []byte
	key        *key
	materialID string
	alg        string
}

// decryptLocked is Decrypt and ReEncrypt's source half. keyRef may be empty
// for symmetric ciphertext, which names its key. Callers hold s.mu.
func (s *Service) decryptLocked(c *call, action, op, keyRef string, blob []byte, encCtx map[string]string, alg string, dryRun bool) (*decryptResult, error) {
	if len(blob) == 0 {
		// Source: KMS API model, CiphertextType min length 1.
		return nil, awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	var k *key
	if keyRef != "" {
		var err error
		if k, err = s.resolve(c.r, keyRef); err != nil {
			return nil, err
		}
		c.keyARN = k.ARN
	}
	if k != nil && !k.symmetric() {
		// Asymmetric ciphertext is plain RSAES-OAEP; the request names the key.
		if err := s.admit(c, action, op, alg, k, encCtx); err != nil {
			return nil, err
		}
		if dryRun {
			return nil, dryRunError()
		}
		p, err := rsa.DecryptOAEP(oaepHash(alg), nil, k.private, blob, nil)
		if err != nil {
			return nil, invalidCiphertext()
		}
		return &decryptResult{plaintext: p, key: k, alg: alg}, nil
	}
	h, header, sealed, err := parseBlob(blob)
	if err != nil {
		return nil, invalidCiphertext()
	}
	if k != nil && k.ID != h.keyID {
		return nil, incorrectKey()
	}
	if k == nil {
		if !uuidPattern.MatchString(h.keyID) && !mrkPattern.MatchString(h.keyID) {
			return nil, invalidCiphertext()
		}
		// A blob naming a key this Region never had is indistinguishable
		// from a forged one: InvalidCiphertextException. A key that existed
		// and whose deletion came due is NotFoundException.
		if s.keys[c.r.Region+"/"+h.keyID] == nil {
			return nil, invalidCiphertext()
		}
		if k, err = s.resolve(c.r, h.keyID); err != nil {
			return nil, err
		}
		c.keyARN = k.ARN
	}
	if err := s.admit(c, action, op, alg, k, encCtx); err != nil {
		return nil, err
	}
	if dryRun {
		return nil, dryRunError()
	}
	m := k.materialByID(h.materialID)
	if m == nil {
		return nil, invalidCiphertext()
	}
	p, err := openBlob(header, sealed, m, encCtx)
	if err != nil {
		return nil, invalidCiphertext()
	}
	return &decryptResult{plaintext: p, key: k, materialID: m.ID, alg: algSymmetric}, nil
}

// Encrypt encrypts plaintext under the key keyRef names in r.Region (key id,
// key ARN, alias name or alias ARN; "" means alias/aws/ssm, created on first
// use) with encryption context encCtx, as the KMS Encrypt operation does,
// with the same authorization (kms:Encrypt) and audit event. Errors are
// *awsapi.Error with KMS's code and message.
func (s *Service) Encrypt(r *awsapi.Request, keyRef string, plaintext []byte, encCtx map[string]string) (blob []byte, keyARN string, err error) {
	if keyRef == "" {
		keyRef = SSMAlias
	}
	r = withTime(r)
	c := &call{r: r, op: "Encrypt", encCtx: encCtx}
	s.mu.Lock()
	res, err := s.encryptLocked(c, "kms:Encrypt", "Encrypt", keyRef, plaintext, encCtx, "", false)
	s.mu.Unlock()
	s.record(c, err)
	if err != nil {
		return nil, c.keyARN, err
	}
	return res.blob, res.key.ARN, nil
}

// GenerateDataKey returns a new 256-bit data key and its encryption under
// keyRef ("" means alias/aws/ssm) with context encCtx, as KMS
// GenerateDataKey with KeySpec AES_256, authorized as kms:GenerateDataKey.
func (s *Service) GenerateDataKey(r *awsapi.Request, keyRef string, encCtx map[string]string) (plaintext, blob []byte, keyARN string, err error) {
	if keyRef == "" {
		keyRef = SSMAlias
	}
	r = withTime(r)
	c := &call{r: r, op: "GenerateDataKey", encCtx: encCtx}
	dk := make([]byte, 32)
	if _, err := rand.Read(dk); err != nil {
		return nil, nil, "", err
	}
	s.mu.Lock()
	res, err := s.generateDataKeyLocked(c, "kms:GenerateDataKey", "GenerateDataKey", keyRef, dk, encCtx, false)
	s.mu.Unlock()
	s.record(c, err)
	if err != nil {
		return nil, nil, c.keyARN, err
	}
	return dk, res.blob, res.key.ARN, nil
}

// generateDataKeyLocked encrypts a data key; only symmetric encryption keys
// make data keys.
func (s *Service) generateDataKeyLocked(c *call, action, op, keyRef string, dk []byte, encCtx map[string]string, dryRun bool) (*encryptResult, error) {
	k, err := s.resolve(c.r, keyRef)
	if err != nil {
		return nil, err
	}
	if !k.symmetric() && k.Usage == usageEncrypt {
		c.keyARN = k.ARN
		if err := s.authorize(c, action, k, encCtx); err != nil {
			return nil, err
		}
		if err := usable(k); err != nil {
			return nil, err
		}
		// Data keys come only from symmetric keys (KMS API reference,
		// GenerateDataKey); the message form is the recorded
		// "Algorithm … is incompatible with key spec …" (inferred, not recorded).
		return nil, wrongAlgorithm(k, algSymmetric)
	}
	return s.encryptLocked(c, action, op, k.ID, dk, encCtx, "", dryRun)
}

// Decrypt decrypts a blob made by Encrypt or GenerateDataKey (wire or Go
// API) in r.Region with context encCtx, as KMS Decrypt does, authorized as
// kms:Decrypt on the key the blob names.
func (s *Service) Decrypt(r *awsapi.Request, blob []byte, encCtx map[string]string) (plaintext []byte, keyARN string, err error) {
	r = withTime(r)
	c := &call{r: r, op: "Decrypt", encCtx: encCtx}
	s.mu.Lock()
	res, err := s.decryptLocked(c, "kms:Decrypt", "Decrypt", "", blob, encCtx, "", false)
	s.mu.Unlock()
	s.record(c, err)
	if err != nil {
		return nil, c.keyARN, err
	}
	return res.plaintext, res.key.ARN, nil
}

// ResolveKey returns the ARN of the key keyRef names in r.Region ("" means
// alias/aws/ssm, created on first use), or NotFoundException as KMS sends it.
// It checks existence only: no state, authorization or audit.
func (s *Service) ResolveKey(r *awsapi.Request, keyRef string) (keyARN string, err error) {
	if keyRef == "" {
		keyRef = SSMAlias
	}
	r = withTime(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolve(r, keyRef)
	if err != nil {
		return "", err
	}
	return k.ARN, nil
}

// withTime returns r with its Time set, for callers that left it zero.
func withTime(r *awsapi.Request) *awsapi.Request {
	if !r.Time.IsZero() {
		return r
	}
	c := *r
	c.Time = time.Now().UTC()
	return &c
}

// admit is the gate of every cryptographic call, in the order KMS applies
// it: the caller may perform action on k with encCtx, k is usable (enabled,
// not pending deletion), and k's spec and usage allow op with alg.
func (s *Service) admit(c *call, action, op, alg string, k *key, encCtx map[string]string) error {
	if err := s.authorize(c, action, k, encCtx); err != nil {
		return err
	}
	if err := usable(k); err != nil {
		return err
	}
	return checkEncryptionUse(k, op, alg)
}
