//go:build !unix

package doctor

// openNonBlocking is unset where filesystem FIFOs do not exist; the Stat check covers the rest.
const openNonBlocking = 0
