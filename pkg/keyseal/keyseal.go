// Package keyseal seals secrets that must travel through etcd and NATS but
// never in plaintext (DNSSEC private keys): AES-256-GCM under a
// key-encryption key (KEK) that the control plane and the edges are given
// as a file. A sealed blob names its KEK by a short id, so a KEK rotation
// can open old blobs with the previous key while new ones use the new key,
// and binds a caller-chosen context (the zone and key it belongs to) as
// additional data, so a blob copied onto another zone's key does not open.
package keyseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KeySize is the size of a KEK: 256 bits.
const KeySize = 32

const (
	version = 1
	idSize  = 8
)

// ErrOpen is returned when a blob cannot be opened: sealed under a KEK the
// ring does not hold, altered, or bound to another context.
var ErrOpen = errors.New("keyseal: cannot open sealed data")

type kek struct {
	id   [idSize]byte
	aead cipher.AEAD
}

// Ring holds the KEK that seals and every KEK that opens.
type Ring struct {
	keks []kek // keks[0] seals
}

// New returns a ring sealing with the first key and opening with any.
func New(keys ...[]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyseal: no key-encryption key")
	}
	r := &Ring{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("keyseal: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("keyseal: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyseal: key %d: %w", i, err)
		}
		sum := sha256.Sum256(append([]byte("zonegrid keyseal id\x00"), k...))
		var id [idSize]byte
		copy(id[:], sum[:])
		r.keks = append(r.keks, kek{id: id, aead: aead})
	}
	return r, nil
}

// ID is the id of the sealing KEK, safe to log.
func (r *Ring) ID() string { return hex.EncodeToString(r.keks[0].id[:]) }

// Seal encrypts plain bound to context.
func (r *Ring) Seal(plain, context []byte) ([]byte, error) {
	k := r.keks[0]
	out := make([]byte, 1+idSize, 1+idSize+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	out[0] = version
	copy(out[1:], k.id[:])
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keyseal: nonce: %w", err)
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plain, aad(out[:1+idSize], context)), nil
}

// Open decrypts a blob made by Seal with the same context.
func (r *Ring) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) < 1+idSize || sealed[0] != version {
		return nil, ErrOpen
	}
	for _, k := range r.keks {
		if string(k.id[:]) != string(sealed[1:1+idSize]) {
			continue
		}
		rest := sealed[1+idSize:]
		if len(rest) < k.aead.NonceSize() {
			return nil, ErrOpen
		}
		plain, err := k.aead.Open(nil, rest[:k.aead.NonceSize()], rest[k.aead.NonceSize():], aad(sealed[:1+idSize], context))
		if err != nil {
			return nil, ErrOpen
		}
		return plain, nil
	}
	return nil, ErrOpen
}

func aad(header, context []byte) []byte {
	return append(append([]byte(nil), header...), context...)
}

// DNSSECKeyContext is the context a zone's DNSSEC private key is sealed
// with, binding the blob to its zone and key: the control plane seals with
// it, the edge opens with it.
func DNSSECKeyContext(zoneID string, keyTag uint16, flags uint32) []byte {
	return []byte("zonegrid dnssec\x00" + zoneID + "\x00" + strconv.Itoa(int(keyTag)) + "\x00" + strconv.Itoa(int(flags)))
}

// TSIGContext is the context a TSIG secret is sealed with, binding the
// blob to its account and key: a blob copied to another key does not open.
// The control plane seals with it; the edges open it to check NOTIFY and
// transfer requests.
func TSIGContext(accountID, tsigID string) []byte {
	return []byte("zonegrid tsig\x00" + accountID + "\x00" + tsigID)
}

// Generate returns a new random KEK.
func Generate() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keyseal: generate: %w", err)
	}
	return k, nil
}

// ReadFile reads a KEK file: the key in base64 on one line.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key %s: not base64: %w", path, err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("key-encryption key %s: %d bytes, want %d", path, len(k), KeySize)
	}
	return k, nil
}

// LoadFiles builds a ring from KEK files: the first seals, all open.
func LoadFiles(paths ...string) (*Ring, error) {
	var keys [][]byte
	for _, p := range paths {
		k, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return New(keys...)
}

// EnsureFile reads the KEK at path, creating it (mode 0600) with a new key
// when it does not exist: the embedded mode's default.
func EnsureFile(path string) ([]byte, error) {
	k, err := ReadFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if k, err = Generate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key-encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return ReadFile(path) // another process made it first
		}
		return nil, fmt.Errorf("create key-encryption key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	return k, nil
}
