package snapshot

// Signed snapshots. The control plane signs every value an edge acts on
// (zone and account KV values, zone objects, deltas) with an Ed25519 key;
// an edge configured with trusted public keys drops whatever does not
// verify and keeps the version it holds, so that whoever can write to NATS
// can delay changes but not change answers.
//
// A signed value is SignedMagic followed by the protobuf message Signed
// (payload, signature, key id). The signature is Ed25519ph (RFC 8032,
// crypto/ed25519 with Options{Hash: SHA512, Context: SignContext}) over
// SHA-512(uvarint(len(binding)) || binding || payload). The binding names
// where the value is published (bucket and key, or stream and subject), so
// a value signed for zone A does not verify when replayed under zone B's
// key, nor a delta on another zone's subject. Hashing first (the "ph")
// lets a zone object of hundreds of MB be signed and verified without
// copying it next to its binding.

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
)

// SignedMagic starts every signed value. Its first byte is 0, which no
// protobuf message can start with (field number 0 is invalid), so a bare
// Zone, Account or ZoneDelta is never mistaken for a signed one.
const SignedMagic = "\x00ZGS1"

// SignContext is the Ed25519ph context string: it keeps these signatures
// from being valid for anything else signed with the same key.
const SignContext = "zonegrid-snapshot-v1"

// Why a value did not verify; every one matches errors.Is(err, ErrSignature).
var (
	ErrSignature    = errors.New("snapshot signature")
	ErrUnsigned     = fmt.Errorf("%w: missing (value is not signed)", ErrSignature)
	ErrUnknownKey   = fmt.Errorf("%w: signed by a key that is not trusted", ErrSignature)
	ErrBadSignature = fmt.Errorf("%w: does not verify", ErrSignature)
	ErrMalformed    = fmt.Errorf("%w: malformed envelope", ErrSignature)
)

// SignatureFailure names err's reason in a metric label: unsigned,
// unknown_key, bad_signature or malformed ("" if err is not about the
// signature).
func SignatureFailure(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "unsigned"
	case errors.Is(err, ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	}
	return ""
}

// Bindings: where a value is published, signed together with it.

// ZoneBinding binds a zone KV value to its key.
func ZoneBinding(key string) string { return "kv/" + ZonesBucket + "/" + key }

// AccountBinding binds an account KV value to its key (the account id).
func AccountBinding(id string) string { return "kv/" + AccountsBucket + "/" + id }

// ObjectBinding binds a zone object to its name in the object store.
func ObjectBinding(name string) string { return "obj/" + ObjectBucket + "/" + name }

// DeltaBinding binds a delta to the subject it is published on.
func DeltaBinding(subject string) string { return "stream/" + DeltaStream + "/" + subject }

// KeyID identifies a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// digest is what is signed: the binding, length-prefixed so that binding
// and payload cannot trade bytes, then the payload.
func digest(binding string, payload []byte) []byte {
	h := newDigest(binding)
	h.Write(payload)
	return h.Sum(nil)
}

var signOpts = &ed25519.Options{Hash: crypto.SHA512, Context: SignContext}

// Signer signs values with one private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID identifies the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// PublicKey is the key edges must trust.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Seal returns payload wrapped in a signed envelope bound to binding. A nil
// Signer returns payload unchanged (signing off).
func (s *Signer) Seal(binding string, payload []byte) ([]byte, error) {
	if s == nil {
		return payload, nil
	}
	sig, err := s.key.Sign(nil, digest(binding, payload), signOpts)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", binding, err)
	}
	out := make([]byte, 0, len(SignedMagic)+len(payload)+len(sig)+len(s.id)+24)
	out = append(out, SignedMagic...)
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	out = protowire.AppendBytes(out, payload)
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendBytes(out, sig)
	out = protowire.AppendTag(out, 3, protowire.BytesType)
	out = protowire.AppendString(out, s.id)
	return out, nil
}

// IsSigned reports whether data is a signed envelope.
func IsSigned(data []byte) bool { return bytes.HasPrefix(data, []byte(SignedMagic)) }

// parseEnvelope reads a signed value without copying its payload (a zone
// object may be hundreds of MB); the payload aliases data.
func parseEnvelope(data []byte) (fields, error) {
	e, err := parseFields(data[len(SignedMagic):])
	if err == nil && !e.payloadSeen {
		err = ErrMalformed
	}
	return e, err
}

// Verifier checks values against a set of trusted public keys (several
// during a key rotation).
type Verifier struct {
	keys map[string]ed25519.PublicKey
}

// NewVerifier trusts keys; at least one is required.
func NewVerifier(keys ...ed25519.PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("snapshot verifier: no trusted key")
	}
	v := &Verifier{keys: map[string]ed25519.PublicKey{}}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("snapshot verifier: public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		v.keys[KeyID(k)] = k
	}
	return v, nil
}

// KeyIDs lists the trusted keys' ids.
func (v *Verifier) KeyIDs() []string {
	ids := make([]string, 0, len(v.keys))
	for id := range v.keys {
		ids = append(ids, id)
	}
	return ids
}

// Open returns the payload of data published under binding. With a
// Verifier, data must be signed by a trusted key for that binding. A nil
// Verifier (signatures not checked) accepts unsigned values as they are
// and unwraps signed ones without checking them. The payload aliases data.
func (v *Verifier) Open(binding string, data []byte) ([]byte, error) {
	if !IsSigned(data) {
		if v == nil {
			return data, nil
		}
		return nil, ErrUnsigned
	}
	e, err := parseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return e.payload, nil
	}
	if err := v.check(binding, digest(binding, e.payload), e); err != nil {
		return nil, err
	}
	return e.payload, nil
}

// check verifies e's signature of sum, the digest of its payload bound to
// binding.
func (v *Verifier) check(binding string, sum []byte, e fields) error {
	pub, ok := v.keys[e.keyID]
	if !ok {
		return fmt.Errorf("%w (key id %q)", ErrUnknownKey, e.keyID)
	}
	if ed25519.VerifyWithOptions(pub, sum, e.sig, signOpts) != nil {
		return fmt.Errorf("%w (key id %q, bound to %s)", ErrBadSignature, e.keyID, binding)
	}
	return nil
}

// Key files are PEM: the private key PKCS #8 ("PRIVATE KEY"), public keys
// PKIX ("PUBLIC KEY"), as `openssl genpkey -algorithm ed25519` and
// `openssl pkey -pubout` write them.

// LoadSigner reads a PEM Ed25519 private key.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("snapshot signing key %s: no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("snapshot signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("snapshot signing key %s: %T, want an Ed25519 key", path, k)
	}
	return NewSigner(priv), nil
}

// LoadVerifier trusts every PEM Ed25519 public key in the files (a file
// may hold several).
func LoadVerifier(paths ...string) (*Verifier, error) {
	var keys []ed25519.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read snapshot trust key: %w", err)
		}
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				break
			}
			if blk.Type != "PUBLIC KEY" {
				continue
			}
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("snapshot trust key %s: %w", p, err)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("snapshot trust key %s: %T, want an Ed25519 key", p, k)
			}
			keys = append(keys, pub)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("snapshot trust keys %v: no PEM \"PUBLIC KEY\" block", paths)
	}
	return NewVerifier(keys...)
}

// EnsureSigningKey loads the private key at privPath, generating it (mode
// 0600) if it does not exist, and writes its public key to pubPath (mode
// 0644) for the edges. For one machine (`controlplane --embedded`);
// production keys are made and distributed by the operator.
func EnsureSigningKey(privPath, pubPath string) (*Signer, error) {
	if _, err := os.Stat(privPath); errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate snapshot signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("encode snapshot signing key: %w", err)
		}
		if err := writeFileExcl(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
	}
	s, err := LoadSigner(privPath)
	if err != nil {
		return nil, err
	}
	pub, err := PublicKeyPEM(s.PublicKey())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return nil, fmt.Errorf("write snapshot trust key: %w", err)
	}
	return s, nil
}

// PublicKeyPEM encodes a public key the way LoadVerifier reads it.
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// writeFileExcl creates path with mode, failing if it exists, so a key is
// never silently replaced.
func writeFileExcl(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}
