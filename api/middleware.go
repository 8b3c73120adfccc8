package api

type ctxKey int

const principalKey ctxKey = iota
