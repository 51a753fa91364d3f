using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// On a machine with fewer than 8 cores, DeepArch sets OMP_WAIT_POLICY=PASSIVE for libtorch's OpenMP workers before libtorch
/// loads, so that idle workers sleep instead of spinning on a machine other processes keep busy; on larger machines it keeps
/// libgomp's spinning, which lets training scale with threads; a value the user set wins. Checked in a fresh process, where
/// libgomp prints what it read when OMP_DISPLAY_ENV is VERBOSE, and whose core count .NET takes from DOTNET_PROCESSOR_COUNT.
/// The spin count is the telling value: libgomp also prints the policy as PASSIVE when none is set, but then spins 300,000
/// times before it sleeps.
/// </summary>
public class NativeEnvironmentTests
{
    [Theory]
    [InlineData("2", null, null, "0")] // a small machine: passive, no spinning
    [InlineData("7", null, null, "0")]
    [InlineData("8", null, null, "300000")] // a larger machine: libgomp's default spinning
    [InlineData("16", null, null, "300000")]
    [InlineData("2", "ACTIVE", null, "30000000000")] // the user's policy wins
    [InlineData("2", null, "300000", "300000")] // the documented way back to libgomp's spinning
    [InlineData("16", "PASSIVE", null, "0")]
    public void Libtorch_openmp_workers_wait_passively_on_small_machines_unless_the_user_chose(string cores, string? policy, string? spinCount, string spinCountSeen)
    {
        var (output, error) = ProcessHost.Run(new Dictionary<string, string?>
        {
            ["DOTNET_PROCESSOR_COUNT"] = cores,
            ["OMP_DISPLAY_ENV"] = "VERBOSE",
            ["OMP_WAIT_POLICY"] = policy,
            ["GOMP_SPINCOUNT"] = spinCount,
        }, "train-small");

        Assert.Contains($"GOMP_SPINCOUNT = '{spinCountSeen}'", error);
        Assert.True(double.IsFinite(double.Parse(Assert.Single(output), System.Globalization.CultureInfo.InvariantCulture)));
    }
}
