package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	oursColor   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	theirsColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	limitColor  = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
)

// Plot draws the fleet-restart curve (nodes ready over time for both
// stores, and the line the read quota allows) and the size sweep (write and
// read time against state size) side by side, into path: PNG or SVG by its
// extension. Either result may be nil; its panel is then left out.
func Plot(path string, restart *FleetRestartResult, size *SizeResult) error {
	var row []*plot.Plot
	if restart != nil {
		p, err := restartPlot(restart)
		if err != nil {
			return err
		}
		row = append(row, p)
	}
	if size != nil {
		p, err := sizePlot(size)
		if err != nil {
			return err
		}
		row = append(row, p)
	}
	if len(row) == 0 {
		return fmt.Errorf("plot %s: nothing to plot; run the fleet-restart or the size scenario", path)
	}
	w, h := vg.Length(len(row))*14*vg.Centimeter, 10*vg.Centimeter
	var (
		c  vg.CanvasWriterTo
		dc draw.Canvas
	)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))
		c, dc = vgimg.PngCanvas{Canvas: img}, draw.New(img)
	case ".svg":
		svg := vgsvg.New(w, h)
		c, dc = svg, draw.New(svg)
	default:
		return fmt.Errorf("plot %s: unknown image type %q; name a .png or .svg file", path, filepath.Ext(path))
	}
	// A white background for PNG viewers with dark themes.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	return f.Close()
}

func restartPlot(r *FleetRestartResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Fleet restart: %d nodes, read quota %.0f/s", r.Config.Nodes, r.Config.ReadRate)
	p.X.Label.Text = "seconds since the store's first read reached SSM"
	p.Y.Label.Text = "nodes with their state"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	end := r.Limit().Seconds() * 1.3
	for _, kind := range Kinds {
		s := r.Stores[kind]
		pts := plotter.XYs{{X: 0, Y: 0}}
		for i, d := range s.Ready {
			x := (d - s.FirstRead).Seconds()
			pts = append(pts, plotter.XY{X: x, Y: float64(i + 1)})
			end = max(end, x)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.Width = vg.Points(2)
		l.Color = oursColor
		label := fmt.Sprintf("ssmstate (%d started)", len(s.Ready))
		if kind == Theirs {
			l.Color = theirsColor
			label = fmt.Sprintf("awsstore (%d started, %d failed)", len(s.Ready), s.Failed)
		}
		p.Add(l)
		p.Legend.Add(label, l)
	}
	// The most the quota allows: the bucket's burst at once, then rate a second.
	n := float64(r.Config.Nodes)
	burst := r.Config.ReadRate
	full := (n - burst) / r.Config.ReadRate
	lim := plotter.XYs{{X: 0, Y: min(burst, n)}, {X: max(full, 0), Y: n}, {X: end, Y: n}}
	l, err := plotter.NewLine(lim)
	if err != nil {
		return nil, err
	}
	l.Color = limitColor
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("quota limit (%.0f/s)", r.Config.ReadRate), l)
	p.X.Min, p.X.Max = 0, end
	p.Y.Min, p.Y.Max = 0, n*1.05
	return p, nil
}

func sizePlot(r *SizeResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "State size: time of one write and one read"
	p.X.Label.Text = "state size (KiB of values, log)"
	p.Y.Label.Text = "milliseconds (log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for _, kind := range Kinds {
		for _, op := range []string{"write", "read"} {
			var pts plotter.XYs
			for _, pt := range r.Points[kind] {
				if !pt.OK {
					continue
				}
				d := pt.Write
				if op == "read" {
					d = pt.Read
				}
				pts = append(pts, plotter.XY{X: float64(pt.Size) / 1024, Y: max(d.Seconds()*1000, 0.01)})
			}
			if len(pts) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			l.Color, s.Color = oursColor, oursColor
			if kind == Theirs {
				l.Color, s.Color = theirsColor, theirsColor
			}
			if op == "read" {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				s.Shape = draw.BoxGlyph{}
			}
			p.Add(l, s)
			p.Legend.Add(fmt.Sprintf("%s %s", kind, op), l, s)
		}
	}
	// Where awsstore stops: the largest state it held.
	var maxOK float64
	for _, pt := range r.Points[Theirs] {
		if pt.OK {
			maxOK = max(maxOK, float64(pt.Size)/1024)
		}
	}
	if maxOK > 0 {
		p.Legend.Add(fmt.Sprintf("largest state awsstore held: %.1f KiB", maxOK))
	}
	return p, nil
}
