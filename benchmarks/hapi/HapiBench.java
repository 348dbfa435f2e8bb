// HAPI FHIR R4 beside relay::transform: the same bundles, parsed into a Bundle and serialized back to JSON,
// single thread, to put transform_benchmark's numbers next to what a Java FHIR stack does with them.
//
//   java -cp <classes>:<HAPI jars> HapiBench [options] INPUT_DIR
//
// INPUT_DIR is what `transform_benchmark --dump-inputs=DIR` writes: index.txt (one input name a line) and
// <name>.json. Options (defaults in brackets):
//   --warmup-seconds S [8]     round-robin over every input and mode before anything is timed: C2 needs
//                              thousands of calls per method before the numbers mean anything
//   --input-warmup-seconds S [1]  again, per input and mode, just before its repetitions
//   --seconds S [2]            length of one timed repetition
//   --repetitions N [3]
//   --modes LIST [parse,parse-serialize]
//
// Output (stdout), tab-separated, one line per repetition and a median line per input and mode:
//   RESULT  <mode> <input> <bytes> <rep> <iterations> <wall_s> <thread_cpu_s> <process_cpu_s> <out_bytes>
//   MEDIAN  <mode> <input> <bytes> <bundles_per_process_cpu_s> <bundles_per_wall_s> <bundles_per_thread_cpu_s>
// Process CPU (every JVM thread: GC, JIT) is the "per core" figure: it is what the JVM costs a machine for
// that work, the same question Google Benchmark's CPU time answers for the single-threaded C++ side.
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.LenientErrorHandler;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.hl7.fhir.r4.model.Bundle;

public final class HapiBench {
    private static final String PARSE = "parse";
    private static final String PARSE_SERIALIZE = "parse-serialize";

    private record Input(String name, int bytes, String json) {}

    private record Sample(long iterations, double wallSeconds, double threadCpuSeconds,
                          double processCpuSeconds, long outBytes) {}

    private final IParser parser;
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    // Folded into the output so the JIT cannot drop the work.
    private long sink;

    private HapiBench(FhirContext context) {
        parser = context.newJsonParser();
        // Lenient as by default, but without a log line per oddity: logging is not what is measured (Ocean's
        // bundles carry a few things HAPI's lenient parser remarks on, e.g. '_' in a v0.10 id).
        parser.setParserErrorHandler(new LenientErrorHandler(false));
    }

    /** One unit of work; returns the serialized bundle, or null when only parsing. */
    private String once(String mode, Input input) {
        Bundle bundle = parser.parseResource(Bundle.class, input.json());
        if (mode.equals(PARSE)) {
            sink += bundle.getEntry().size();
            return null;
        }
        String out = parser.encodeResourceToString(bundle);
        sink += out.length();
        return out;
    }

    private static long utf8Length(String s) {
        return s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
    }

    private void spin(String mode, Input input, double seconds) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        do {
            once(mode, input);
        } while (System.nanoTime() < end);
    }

    private Sample measure(String mode, Input input, double seconds) {
        long outBytes = utf8Length(once(mode, input));
        long cpu0 = os.getProcessCpuTime();
        long thread0 = threads.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        long iterations = 0;
        long now;
        do {
            once(mode, input);
            ++iterations;
            now = System.nanoTime();
        } while (now < end);
        long thread1 = threads.getCurrentThreadCpuTime();
        long cpu1 = os.getProcessCpuTime();
        return new Sample(iterations, (now - start) / 1e9, (thread1 - thread0) / 1e9, (cpu1 - cpu0) / 1e9,
                          outBytes);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static List<Input> readInputs(Path dir) throws IOException {
        List<Input> inputs = new ArrayList<>();
        for (String name : Files.readAllLines(dir.resolve("index.txt"), StandardCharsets.UTF_8)) {
            if (name.isBlank()) continue;
            byte[] bytes = Files.readAllBytes(dir.resolve(name + ".json"));
            inputs.add(new Input(name, bytes.length, new String(bytes, StandardCharsets.UTF_8)));
        }
        if (inputs.isEmpty()) throw new IOException("index.txt in " + dir + " names no input");
        return inputs;
    }

    private static void usage(String why) {
        System.err.println("HapiBench: " + why);
        System.err.println("usage: HapiBench [--warmup-seconds S] [--input-warmup-seconds S] [--seconds S]"
                           + " [--repetitions N] [--modes parse,parse-serialize] INPUT_DIR");
        System.exit(2);
    }

    public static void main(String[] args) throws IOException {
        double warmup = 8;
        double inputWarmup = 1;
        double seconds = 2;
        int repetitions = 3;
        List<String> modes = List.of(PARSE, PARSE_SERIALIZE);
        Path dir = null;
        for (int i = 0; i < args.length; ++i) {
            String arg = args[i];
            if (arg.startsWith("--") && i + 1 >= args.length) usage(arg + " needs a value");
            switch (arg) {
                case "--warmup-seconds" -> warmup = Double.parseDouble(args[++i]);
                case "--input-warmup-seconds" -> inputWarmup = Double.parseDouble(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--repetitions" -> repetitions = Integer.parseInt(args[++i]);
                case "--modes" -> modes = List.of(args[++i].split(","));
                default -> {
                    if (arg.startsWith("--") || dir != null) usage("unexpected argument " + arg);
                    dir = Path.of(arg);
                }
            }
        }
        if (dir == null) usage("no INPUT_DIR");
        for (String mode : modes) {
            if (!mode.equals(PARSE) && !mode.equals(PARSE_SERIALIZE)) usage("unknown mode " + mode);
        }
        if (repetitions < 1 || seconds <= 0) usage("--repetitions and --seconds must be positive");

        List<Input> inputs = readInputs(dir);
        // Created once: building the context (model scanning) costs seconds and is not per bundle.
        HapiBench bench = new HapiBench(FhirContext.forR4());

        System.out.printf("# HAPI FHIR %s, Java %s (%s), %d processors%n",
                          ca.uhn.fhir.util.VersionUtil.getVersion(), System.getProperty("java.version"),
                          System.getProperty("java.vm.name"), Runtime.getRuntime().availableProcessors());
        System.out.printf("# JVM arguments: %s%n",
                          String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));

        // A bundle HAPI cannot read would make its numbers meaningless: fail loudly instead.
        for (Input input : inputs) {
            Bundle bundle = bench.parser.parseResource(Bundle.class, input.json());
            if (bundle.getEntry().isEmpty()) throw new IllegalStateException(input.name() + ": no entries");
            System.out.printf("# %s: %d bytes, %d entries, serialized %d bytes%n", input.name(), input.bytes(),
                              bundle.getEntry().size(),
                              utf8Length(bench.parser.encodeResourceToString(bundle)));
        }

        long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
        while (System.nanoTime() < warmEnd) {
            for (Input input : inputs) {
                for (String mode : modes) bench.once(mode, input);
            }
        }

        for (String mode : modes) {
            for (Input input : inputs) {
                bench.spin(mode, input, inputWarmup);
                double[] perCpu = new double[repetitions];
                double[] perWall = new double[repetitions];
                double[] perThread = new double[repetitions];
                for (int rep = 0; rep < repetitions; ++rep) {
                    Sample s = bench.measure(mode, input, seconds);
                    perCpu[rep] = s.iterations() / s.processCpuSeconds();
                    perWall[rep] = s.iterations() / s.wallSeconds();
                    perThread[rep] = s.iterations() / s.threadCpuSeconds();
                    System.out.printf("RESULT\t%s\t%s\t%d\t%d\t%d\t%.6f\t%.6f\t%.6f\t%d%n", mode, input.name(),
                                      input.bytes(), rep, s.iterations(), s.wallSeconds(),
                                      s.threadCpuSeconds(), s.processCpuSeconds(), s.outBytes());
                }
                System.out.printf("MEDIAN\t%s\t%s\t%d\t%.1f\t%.1f\t%.1f%n", mode, input.name(), input.bytes(),
                                  median(perCpu), median(perWall), median(perThread));
                System.out.flush();
            }
        }
        System.out.printf("# sink %d%n", bench.sink);
    }
}
