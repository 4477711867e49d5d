# SPDX-License-Identifier: GPL-2.0
# make bench's chart (run by scripts/bench-report): one panel per back-end
# set; per workload, each path's median relative to VDUSE's (1 = as fast as
# VDUSE), error bars from the lowest to the highest round, log scale.
# Variables: nsets, set0/set1 (data files), title0/title1, paths0/paths1,
# out, maintitle.

set terminal pngcairo size 1400, 560 * nsets font "DejaVu Sans,11" noenhanced
set output out
set datafile missing "NaN"
set style data histogram
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border rgb "#333333"
set bars 0.6
set logscale y 2
set yrange [0.03125:512]
set ytics ("1/32" 0.03125, "1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32, "64" 64, "128" 128, "256" 256, "512" 512)
set grid ytics lc rgb "#dddddd"
set key outside right top vertical
set xtics nomirror scale 0 font ",10"
set ylabel "throughput relative to VDUSE (median, log scale)"

name(p) = p eq "vl-isolated" ? "virtio-loopback isolated" : \
	  p eq "vl-zero-copy" ? "virtio-loopback zero-copy" : \
	  p eq "vduse" ? "VDUSE" : p eq "nbd" ? "NBD" : \
	  p eq "null_blk" ? "null_blk (in-kernel ceiling)" : \
	  p eq "loop" ? "loop on tmpfs" : p
color(p) = p eq "vl-isolated" ? 0x1f77b4 : p eq "vl-zero-copy" ? 0x6baed6 : \
	   p eq "vduse" ? 0xd62728 : p eq "nbd" ? 0xff9f1c : \
	   p eq "null_blk" ? 0x7f7f7f : p eq "loop" ? 0xc7c7c7 : 0x000000

set bmargin 4
set multiplot layout nsets, 1 title maintitle font ",13"
do for [s = 0:nsets - 1] {
	file = s == 0 ? set0 : set1
	paths = s == 0 ? paths0 : paths1
	set title "back-end: " . (s == 0 ? title0 : title1) font ",12"
	plot for [j = 1:words(paths)] file \
		using (column(3 * j - 1)):(column(3 * j)):(column(3 * j + 1)):xtic(1) \
		title name(word(paths, j)) lc rgb color(word(paths, j)), \
		1 with lines dt 2 lc rgb "#d62728" notitle
}
unset multiplot
