package ssmemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// SecureString values are encrypted the way the AWS KMS developer guide
// describes for Parameter Store ("How AWS Systems Manager Parameter Store uses
// AWS KMS"): Standard parameters directly with KMS Encrypt/Decrypt, Advanced
// ones by envelope encryption with a data key from GenerateDataKey; every call
// carries the encryption context {"PARAMETER_ARN": <parameter ARN>}.

// defaultKeyID is what AWS shows as KeyId when no key was given.
const defaultKeyID = "alias/aws/ssm"

// envelopeMagic starts an Advanced-tier envelope: magic, 2-byte length of the
// KMS-encrypted data key, the data key blob, 12-byte nonce, AES-256-GCM
// ciphertext of the value with the parameter ARN as additional data.
var envelopeMagic = []byte("SSMENV1")

// kmsAs returns a copy of r for a call SSM makes to KMS on the caller's behalf.
func kmsAs(r *awsapi.Request) *awsapi.Request {
	k := *r
	k.Service = "kms"
	k.ViaService = "ssm." + r.Region + ".amazonaws.com"
	return &k
}

func encCtx(arn string) map[string]string { return map[string]string{"PARAMETER_ARN": arn} }

// encrypt encrypts value for the parameter ARN arn under keyRef ("" = the AWS
// managed key), returning what is stored and the key's ARN.
func (s *Service) encrypt(r *awsapi.Request, arn, tier, keyRef, value string) (cipherBlob []byte, keyARN string, err error) {
	if s.keys == nil {
		return nil, "", errInternal("SecureString parameters need the endpoint's KMS service, which is not configured")
	}
	kr := kmsAs(r)
	if tier != tierAdvanced {
		kr.Operation = "Encrypt"
		blob, keyARN, err := s.keys.Encrypt(kr, keyRef, []byte(value), encCtx(arn))
		if err != nil {
			return nil, "", kmsFailure(err)
		}
		return blob, keyARN, nil
	}
	kr.Operation = "GenerateDataKey"
	dataKey, blob, keyARN, err := s.keys.GenerateDataKey(kr, keyRef, encCtx(arn))
	if err != nil {
		return nil, "", kmsFailure(err)
	}
	defer clear(dataKey)
	if len(blob) > 0xffff {
		return nil, "", errInternal("data key ciphertext too long")
	}
	gcm, err := newGCM(dataKey)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	out := append([]byte{}, envelopeMagic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(blob)))
	out = append(out, blob...)
	out = append(out, nonce...)
	out = gcm.Seal(out, nonce, []byte(value), []byte(arn))
	return out, keyARN, nil
}

// decrypt reverses encrypt.
func (s *Service) decrypt(r *awsapi.Request, arn string, v *version) (string, error) {
	if s.keys == nil {
		return "", errInternal("SecureString parameters need the endpoint's KMS service, which is not configured")
	}
	kr := kmsAs(r)
	kr.Operation = "Decrypt"
	if v.Tier != tierAdvanced {
		pt, _, err := s.keys.Decrypt(kr, v.Cipher, encCtx(arn))
		if err != nil {
			return "", kmsFailure(err)
		}
		return string(pt), nil
	}
	b := v.Cipher
	if len(b) < len(envelopeMagic)+2 || string(b[:len(envelopeMagic)]) != string(envelopeMagic) {
		return "", errInternal("stored SecureString envelope is malformed")
	}
	b = b[len(envelopeMagic):]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < n+12 {
		return "", errInternal("stored SecureString envelope is truncated")
	}
	dataKey, _, err := s.keys.Decrypt(kr, b[:n], encCtx(arn))
	if err != nil {
		return "", kmsFailure(err)
	}
	defer clear(dataKey)
	gcm, err := newGCM(dataKey)
	if err != nil {
		return "", err
	}
	nonce, ct := b[n:n+gcm.NonceSize()], b[n+gcm.NonceSize():]
	pt, err := gcm.Open(nil, nonce, ct, []byte(arn))
	if err != nil {
		return "", errInternal("stored SecureString does not decrypt under its data key")
	}
	return string(pt), nil
}

// shownValue is a version's value as GetParameter returns it: plaintext for
// String and StringList; for SecureString the ciphertext in base64, or the
// decrypted value when decrypt is set.
func (s *Service) shownValue(r *awsapi.Request, arn string, v *version, decrypt bool) (string, error) {
	if v.Type != typeSecureString {
		return v.Value, nil
	}
	if !decrypt {
		return base64.StdEncoding.EncodeToString(v.Cipher), nil
	}
	return s.decrypt(r, arn, v)
}

// kmsFailure turns an error from KMS into the error SSM returns. AWS wraps
// the KMS error in the message in the AWS SDK for Java's format and answers
// InvalidKeyId, except that a KMS AccessDeniedException stays
// AccessDeniedException (sources in docs/aws-behaviour.md):
//
//	InvalidKeyId: Key 'arn:aws:kms:…:key/…' does not exist (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException; Request ID: …; Proxy: null)
func kmsFailure(err error) error {
	var ae *awsapi.Error
	if !errors.As(err, &ae) {
		return err
	}
	status := ae.Status
	if status == 0 {
		status = 400
	}
	msg := fmt.Sprintf("%s (Service: AWSKMS; Status Code: %d; Error Code: %s; Request ID: %s; Proxy: null)", ae.Message, status, ae.Code, newRequestID())
	code := "InvalidKeyId"
	if ae.Code == "AccessDeniedException" {
		code = "AccessDeniedException"
	}
	if status >= 500 {
		return errInternal("%s", msg)
	}
	return awsapi.Errorf(code, "%s", msg)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key from KMS is not an AES key: %w", err)
	}
	return cipher.NewGCM(block)
}
