namespace Rnn.Simd.Benchmarks;

/// <summary>Checks a benchmark's result against a double-precision reference before it is timed.</summary>
internal static class Verify
{
    /// <summary>Compares sampled elements of C = A · op(B) (op(B)(k, j) = b[j·k + …] when transB) with a double reference.</summary>
    public static void Product(float[] a, float[] b, float[] c, int m, int n, int k, bool transB, string what)
    {
        var random = new Random(11);
        for (int sample = 0; sample < 64; sample++)
        {
            int i = random.Next(m), j = random.Next(n);
            double sum = 0, scale = 0;
            for (int p = 0; p < k; p++)
            {
                double term = (double)a[(i * k) + p] * (transB ? b[(j * k) + p] : b[(p * n) + j]);
                sum += term;
                scale += Math.Abs(term);
            }

            double error = Math.Abs(c[(i * n) + j] - sum);
            if (error > (k + 1) * scale / (1 << 24))
            {
                throw new InvalidOperationException($"{what} is wrong at ({i}, {j}): {c[(i * n) + j]} vs {sum}; not timing it.");
            }
        }
    }
}
