package snapshot

// FillingMetadata is the bucket metadata key the control plane sets on a
// KV bucket it had to create while zones exist (first start, or the bucket
// or the whole JetStream store was lost) and removes once every zone and
// account is published into it. An edge does not call itself ready on the
// listing of a bucket that carries it: the listing is incomplete.
const FillingMetadata = "zonegrid.filling"
