package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/charts"
	"github.com/crestwaves/crest/site"
)

func newWaveChartCmd(a *app) *cobra.Command {
	var kind, format, output string
	cmd := &cobra.Command{
		Use:   "chart wave-N -o FILE",
		Short: "Draw a major wave's burndown, failures and resolutions, or Gantt chart as SVG or PNG",
		Long: `Draw one of the pictures the status site shows on a wave's page, from what Postgres
recorded:

  burndown  remaining builds over time: a line per minor wave and the major wave's total
  failures  failures recorded by kind, resolutions by kind, and the failures still open
  gantt     each minor wave's planned start and finish (the wave's stored plan, placed
            from when its first planned minor wave started) against the actual ones

The format follows --format, or else the file's extension (.png or .svg). SVG files carry
their font, so that they look the same in every viewer. -o - writes to stdout.`,
		Example: `  crest wave chart wave-1 -o wave-1-burndown.svg
  crest wave chart wave-1 --kind gantt -o wave-1-gantt.png
  crest wave chart wave-1 --kind failures --format png -o - > failures.png`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, minor, err := parseWave(args[0])
			if err != nil {
				return err
			}
			if minor != 0 {
				return fmt.Errorf("%s is a minor wave: give its major wave (its pictures show every minor wave)", args[0])
			}
			if !slices.Contains(site.ChartKinds, kind) {
				return fmt.Errorf("--kind %q: want %s", kind, strings.Join(site.ChartKinds, ", "))
			}
			if output == "" {
				return fmt.Errorf("no file to write: give -o FILE (or -o - for stdout)")
			}
			f, err := chartFormat(format, output)
			if err != nil {
				return err
			}
			return a.withSession(cmd, false, func(s *session) error {
				ctx := cmd.Context()
				w, err := s.st.WaveByNumber(ctx, s.collection, major)
				if err != nil {
					return err
				}
				c, _, err := site.WaveChart(ctx, s.st, w, kind, time.Now())
				if err != nil {
					return err
				}
				var b bytes.Buffer
				if err := charts.Render(&b, c, f, charts.EmbedFonts); err != nil {
					return err
				}
				if output == "-" {
					_, err := cmd.OutOrStdout().Write(b.Bytes())
					return err
				}
				if err := os.WriteFile(output, b.Bytes(), 0o644); err != nil {
					return fmt.Errorf("write the %s of %s: %w", kind, w.Name(), err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: the %s of %s (%s)\n", output, kind, w.Name(), f)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", site.ChartBurndown, "picture: "+strings.Join(site.ChartKinds, ", "))
	f.StringVar(&format, "format", "", "svg or png (default: from the file's extension, else svg)")
	f.StringVarP(&output, "output", "o", "", "write the picture to `FILE` (- for stdout)")
	return cmd
}

// chartFormat is the format asked for, or the one the file's extension names.
func chartFormat(format, output string) (charts.Format, error) {
	if format != "" {
		return charts.ParseFormat(format)
	}
	if strings.EqualFold(filepath.Ext(output), ".png") {
		return charts.PNG, nil
	}
	return charts.SVG, nil
}
