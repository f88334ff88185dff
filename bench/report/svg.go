// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart is a line chart over a logarithmic x axis.
type chart struct {
	title, xLabel, yLabel string
	// x are the positions of every series' points, ascending.
	x      []float64
	series []series
	// target draws a dashed horizontal line, 0 for none.
	target      float64
	targetLabel string
}

type series struct {
	name string
	y    []float64 // per x; NaN leaves a gap
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

const (
	width, height                      = 640, 400
	marginL, marginR, marginT, marginB = 70, 20, 40, 60
)

// svg renders the chart as a standalone SVG document.
func (c chart) svg() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", width/2, html.EscapeString(c.title))
	yMax := c.yScale()
	c.axes(&b, yMax)
	for i, s := range c.series {
		color := palette[i%len(palette)]
		var pts []string
		for j, y := range s.y {
			if j >= len(c.x) || math.IsNaN(y) {
				continue
			}
			px, py := c.px(c.x[j]), c.py(y, yMax)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px, py, color)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		ly := marginT + 10 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, marginL+12, ly, marginL+32, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", marginL+38, ly+4, html.EscapeString(s.name))
	}
	if c.target > 0 {
		ty := c.py(c.target, yMax)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555" stroke-dasharray="6,4"/>`, marginL, ty, width-marginR, ty)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", width-marginR-4, ty+15, html.EscapeString(c.targetLabel))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// scale maps values to the y axis: linear from 0, or logarithmic over
// whole decades when the values span more than two of them (a regression
// of 1000x would flatten everything else on a linear axis).
type scale struct {
	log    bool
	lo, hi float64
}

func (c chart) yScale() scale {
	lo, hi := math.Inf(1), c.target
	if c.target > 0 {
		lo = c.target
	}
	for _, s := range c.series {
		for _, y := range s.y {
			if !math.IsNaN(y) && y > 0 {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if hi <= 0 {
		return scale{hi: 1}
	}
	if hi/lo > 100 {
		return scale{log: true, lo: math.Pow(10, math.Floor(math.Log10(lo))), hi: math.Pow(10, math.Ceil(math.Log10(hi)))}
	}
	return scale{hi: niceCeil(hi * 1.1)}
}

// ticks are the values labelled on the y axis.
func (s scale) ticks() []float64 {
	var t []float64
	if s.log {
		for v := s.lo; v <= s.hi*1.0001; v *= 10 {
			t = append(t, v)
		}
		return t
	}
	for i := 0; i <= 5; i++ {
		t = append(t, s.hi*float64(i)/5)
	}
	return t
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func (c chart) px(x float64) float64 {
	lo, hi := math.Log10(c.x[0]), math.Log10(c.x[len(c.x)-1])
	if hi == lo {
		return float64(marginL+width-marginR) / 2
	}
	pad := 0.06 * (hi - lo)
	return marginL + (math.Log10(x)-lo+pad)/(hi-lo+2*pad)*float64(width-marginL-marginR)
}

func (c chart) py(y float64, s scale) float64 {
	f := y / s.hi
	if s.log {
		f = (math.Log10(max(y, s.lo)) - math.Log10(s.lo)) / (math.Log10(s.hi) - math.Log10(s.lo))
	}
	return float64(height-marginB) - f*float64(height-marginT-marginB)
}

func (c chart) axes(b *strings.Builder, yMax scale) {
	x0, y0, x1, y1 := marginL, height-marginB, width-marginR, marginT
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, x0, y0, x1, y0)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, y0, x0, y1)
	for _, v := range yMax.ticks() {
		py := c.py(v, yMax)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, x0+1, py, x1, py)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, py+4, countLabel(v))
	}
	for _, x := range c.x {
		px := c.px(x)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`, px, y0, px, y0+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px, y0+19, countLabel(x))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, height-16, html.EscapeString(c.xLabel))
	label := c.yLabel
	if yMax.log {
		label += " (log scale)"
	}
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">%s</text>`+"\n", (y0+y1)/2, (y0+y1)/2, html.EscapeString(label))
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// countLabel writes 10000 as 10k and 4000000 as 4M.
func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}
