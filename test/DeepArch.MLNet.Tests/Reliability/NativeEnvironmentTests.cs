using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// DeepArch sets OMP_WAIT_POLICY=PASSIVE for libtorch's OpenMP workers before libtorch loads, so that idle workers sleep
/// instead of spinning on a machine other processes keep busy; a value the user set wins. Checked in a fresh process,
/// where libgomp prints what it read when OMP_DISPLAY_ENV is VERBOSE. The spin count is the telling value: libgomp
/// also prints the policy as PASSIVE when none is set, but then spins 300,000 times before it sleeps.
/// </summary>
public class NativeEnvironmentTests
{
    [Theory]
    [InlineData(null, null, "0")] // DeepArch's default: passive, no spinning
    [InlineData("ACTIVE", null, "30000000000")] // the user's policy wins
    [InlineData(null, "300000", "300000")] // the documented way back to libgomp's spinning
    public void Libtorch_openmp_workers_wait_passively_unless_the_user_chose(string? policy, string? spinCount, string spinCountSeen)
    {
        var (output, error) = ProcessHost.Run(new Dictionary<string, string?>
        {
            ["OMP_DISPLAY_ENV"] = "VERBOSE",
            ["OMP_WAIT_POLICY"] = policy,
            ["GOMP_SPINCOUNT"] = spinCount,
        }, "train-small");

        Assert.Contains($"GOMP_SPINCOUNT = '{spinCountSeen}'", error);
        Assert.True(double.IsFinite(double.Parse(Assert.Single(output), System.Globalization.CultureInfo.InvariantCulture)));
    }
}
