using System.Globalization;
using System.Text;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// A chart of text cells: log10 ‖dL/dh_t‖ (rows, one per <see cref="DecadesPerRow"/> decades) against the distance
/// T − 1 − t from the loss (columns), one symbol per series. Zero norms (underflow) are not drawn.
/// </summary>
internal sealed class GradientChart
{
    private const int MaxRows = 16;
    private const int LabelWidth = 7;
    private readonly List<(string Name, char Symbol, float[] Norms)> _series = [];

    /// <summary>What the columns are.</summary>
    public const string AxisCaption = "x: distance T-1-t from the loss";

    /// <summary>Decades of ‖dL/dh_t‖ per row of the chart.</summary>
    public int DecadesPerRow { get; private set; } = 1;

    /// <summary>Adds a series of ‖dL/dh_t‖ for t = 0 … T−1, drawn with <paramref name="symbol"/>.</summary>
    public GradientChart Add(string name, char symbol, float[] norms)
    {
        _series.Add((name, symbol, norms));
        return this;
    }

    /// <summary>The series' names and symbols, in the order added.</summary>
    public IEnumerable<(string Name, char Symbol, int Index)> Legend() => _series.Select((s, i) => (s.Name, s.Symbol, i));

    /// <summary>
    /// The chart's lines, top (largest norm) first, then the distance axis (its caption is <see cref="AxisCaption"/>). <paramref name="cell"/> renders one plotted
    /// symbol given its series index (later series draw over earlier ones); blank cells are spaces.
    /// </summary>
    public IEnumerable<string> Lines(Func<char, int, string> cell)
    {
        int width = _series.Max(s => s.Norms.Length);
        var logs = _series.Select(s => s.Norms.Select(n => n > 0 ? Math.Log10(n) : double.NaN).ToArray()).ToList();
        var finite = logs.SelectMany(l => l).Where(double.IsFinite).ToList();
        if (finite.Count == 0)
        {
            yield break;
        }

        int top = (int)Math.Ceiling(finite.Max()), bottom = (int)Math.Floor(finite.Min());
        DecadesPerRow = Math.Max(1, (int)Math.Ceiling((top - bottom) / (double)MaxRows));
        int rows = Math.Max(1, (int)Math.Ceiling((top - bottom) / (double)DecadesPerRow));
        var grid = new int[rows, width];   // series index + 1, 0 for blank
        for (int s = 0; s < logs.Count; s++)
        {
            double[] series = logs[s];
            for (int t = 0; t < series.Length; t++)
            {
                if (double.IsFinite(series[t]))
                {
                    int row = Math.Clamp((int)((top - series[t]) / DecadesPerRow), 0, rows - 1);
                    grid[row, series.Length - 1 - t] = s + 1;   // column: the distance from the loss
                }
            }
        }

        var line = new StringBuilder();
        for (int row = 0; row < rows; row++)
        {
            line.Clear();
            line.Append(string.Create(CultureInfo.InvariantCulture, $"1e{top - (row * DecadesPerRow)}").PadLeft(LabelWidth - 2)).Append(" |");
            for (int column = 0; column < width; column++)
            {
                int s = grid[row, column];
                line.Append(s == 0 ? " " : cell(_series[s - 1].Symbol, s - 1));
            }

            yield return line.ToString();
        }

        yield return new string(' ', LabelWidth - 1) + "+" + new string('-', width);
        var axis = new StringBuilder(new string(' ', LabelWidth + width + 4));
        for (int d = 0; d < width; d += 10)
        {
            string label = d.ToString(CultureInfo.InvariantCulture);
            axis.Remove(LabelWidth + d, label.Length).Insert(LabelWidth + d, label);
        }

        yield return axis.ToString().TrimEnd();
    }
}
