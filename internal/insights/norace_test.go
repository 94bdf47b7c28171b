//go:build !race

package insights

const raceEnabled = false
