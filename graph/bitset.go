package graph

import "math/bits"

// bitset is a set of node numbers; planning keeps one per group, so it must be small.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(v int32)      { b[v>>6] |= 1 << (uint(v) & 63) }
func (b bitset) has(v int32) bool { return b[v>>6]&(1<<(uint(v)&63)) != 0 }

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// or adds every member of c to b.
func (b bitset) or(c bitset) {
	for i, w := range c {
		b[i] |= w
	}
}

// each calls f for every member in ascending order.
func (b bitset) each(f func(v int32)) {
	for i, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			f(int32(i<<6 + t))
			w &= w - 1
		}
	}
}

// members lists the members in ascending order.
func (b bitset) members() []int32 {
	out := make([]int32, 0, b.count())
	b.each(func(v int32) { out = append(out, v) })
	return out
}

func (b bitset) clear(v int32) { b[v>>6] &^= 1 << (uint(v) & 63) }

// andNot removes every member of c from b.
func (b bitset) andNot(c bitset) {
	for i, w := range c {
		b[i] &^= w
	}
}
