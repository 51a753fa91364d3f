using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Gets the <see cref="IHostEnvironment"/> (the <see cref="MLContext"/>) behind a catalog object. ML.NET
/// exposes it only to its own assemblies (the internal <c>IInternalCatalog.Environment</c>), so this one
/// place reads it through reflection; a test pins that it still works.
/// </summary>
internal static class CatalogEnvironment
{
    public static IHostEnvironment Of(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var property = catalog.GetType().GetInterfaces()
            .FirstOrDefault(i => i.Name == "IInternalCatalog")?
            .GetProperty("Environment", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        return property?.GetValue(catalog) as IHostEnvironment
            ?? throw new InvalidOperationException($"Could not reach the MLContext behind {catalog.GetType().Name}; this Microsoft.ML version is not supported.");
    }

    /// <summary>A seed drawn from the environment's random source: fixed when the MLContext was given a seed.</summary>
    public static int Seed(IHostEnvironment environment) => environment.Register("DeepArch").Rand.Next();
}
