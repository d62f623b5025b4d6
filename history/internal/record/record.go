// Package record holds the rules every store applies to what it keeps, so that the
// in-memory store (history/memstore) refuses and rounds exactly as MongoDB via
// history/mongo does: the codec that encodes episodes, the bound on ids, and the checks on
// an encoded record (its size and the strings FerretDB cannot hold).
package record
