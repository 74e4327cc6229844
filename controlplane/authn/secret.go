package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// A token secret reads "zgt_<id>_<random>": the id lets the verifier find
// the token without scanning, the random part (256 bits, base64url) is
// what is hashed and compared. The prefix makes leaked tokens easy to
// find with secret scanners.
const secretPrefix = "zgt_"

// NewSecret makes a fresh token id and its secret.
func NewSecret() (id, secret string, err error) {
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", fmt.Errorf("generate token id: %w", err)
	}
	id = hex.EncodeToString(idb[:])
	secret, err = secretFor(id)
	return id, secret, err
}

// NewOperatorSecret makes a bootstrap credential for the operator.
func NewOperatorSecret() (string, error) { return secretFor(OperatorID) }

func secretFor(id string) (string, error) {
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("generate token secret: %w", err)
	}
	return secretPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(r[:]), nil
}

// Hash is what the store keeps of a secret.
func Hash(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// parseSecret returns the token id a secret names.
func parseSecret(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return "", false
	}
	id, random, ok := strings.Cut(rest, "_")
	if !ok || id == "" || random == "" || len(secret) > 256 {
		return "", false
	}
	return id, true
}
