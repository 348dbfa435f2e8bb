// FHIR R4 validator for tests: HAPI FHIR's instance validator, offline, many
// files in one JVM.  Built and run by ../fhir-validate.sh (see ../README.md).
//
//   java -cp <classes>:<jars>/* Validate [--ignore <messageId>]... [--timings] <file|dir>...
//
// A directory means every *.json below it (recursive, sorted).  For each file
// every issue is printed to stdout as
//
//   <path>:<line>:<col>: <SEVERITY> [<messageId>] <text> (at <FHIRPath location>)
//
// followed by a per-file verdict line and one summary line.  Exit status:
// 0 = no ERROR/FATAL issue anywhere, 1 = at least one file has an ERROR or
// FATAL issue (or could not be read / parsed), 2 = usage error.
//
// --ignore <messageId> (repeatable) downgrades ERROR issues with exactly that
// message id to WARNING (printed as "WARNING (ignored ERROR)").  Whoever uses
// it documents why next to the call.  FATAL issues (unparseable input) are
// never downgraded.  --timings prints per-file times to stderr.

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

public final class Validate {
  private static final PrintStream OUT = System.out;
  private static final PrintStream ERR = System.err;

  private final Set<String> ignored;
  private final Set<String> ignoredUsed = new LinkedHashSet<>();
  private final boolean timings;
  private FhirValidator validator;

  private int files, failedFiles, errors, warnings, infos, downgraded;

  private Validate(Set<String> ignored, boolean timings) {
    this.ignored = ignored;
    this.timings = timings;
  }

  public static void main(String[] args) {
    // Quiet logging unless the caller says otherwise (slf4j-simple, stderr).
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    // HAPI's own parser warns "Unknown element 'author' found while parsing"
    // while loading its *built-in* R4 CodeSystems (DefaultProfileValidation-
    // SupportBundleStrategy.loadCodeSystems).  Inputs are not parsed by that
    // parser (the instance validator reads the raw text), so this is noise.
    String lenient = "org.slf4j.simpleLogger.log.ca.uhn.fhir.parser.LenientErrorHandler";
    if (System.getProperty(lenient) == null) {
      System.setProperty(lenient, "error");
    }
    int status;
    try {
      status = run(args);
    } catch (Throwable t) {
      ERR.println("fhir-validate: internal error: " + t);
      t.printStackTrace(ERR);
      status = 2;
    }
    OUT.flush();
    ERR.flush();
    // Exit explicitly: HAPI / caffeine may leave non-daemon threads behind.
    System.exit(status);
  }

  private static int run(String[] args) throws IOException {
    Set<String> ignored = new LinkedHashSet<>();
    boolean timings = false;
    List<String> operands = new ArrayList<>();
    boolean optionsDone = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (optionsDone || !a.startsWith("-") || a.equals("-")) {
        operands.add(a);
      } else if (a.equals("--")) {
        optionsDone = true;
      } else if (a.equals("--ignore")) {
        if (++i >= args.length || args[i].isEmpty()) {
          return usage("--ignore needs a message id");
        }
        ignored.add(args[i]);
      } else if (a.startsWith("--ignore=")) {
        ignored.add(a.substring("--ignore=".length()));
      } else if (a.equals("--timings")) {
        timings = true;
      } else if (a.equals("-h") || a.equals("--help")) {
        usage(null);
        return 0;
      } else {
        return usage("unknown option " + a);
      }
    }
    if (operands.isEmpty()) {
      return usage("no files or directories given");
    }

    List<Path> paths = new ArrayList<>();
    for (String op : operands) {
      Path p = Paths.get(op);
      if (Files.isDirectory(p)) {
        try (Stream<Path> s = Files.walk(p)) {
          List<Path> found =
              s.filter(f -> Files.isRegularFile(f) && f.getFileName().toString().endsWith(".json"))
                  .sorted(Comparator.comparing(Path::toString))
                  .collect(Collectors.toList());
          if (found.isEmpty()) {
            ERR.println("fhir-validate: error: no *.json files in directory " + op);
            return 2;
          }
          paths.addAll(found);
        }
      } else if (Files.isRegularFile(p)) {
        paths.add(p);
      } else {
        ERR.println("fhir-validate: error: no such file or directory: " + op);
        return 2;
      }
    }

    Validate v = new Validate(ignored, timings);
    long t0 = System.nanoTime();
    v.init();
    if (timings) {
      ERR.printf("fhir-validate: timing: validator set up in %d ms%n", ms(t0));
    }
    for (Path p : paths) {
      v.validateFile(p);
    }
    for (String id : ignored) {
      if (!v.ignoredUsed.contains(id)) {
        ERR.println("fhir-validate: note: --ignore " + id + " matched no ERROR issue");
      }
    }
    OUT.printf(
        "fhir-validate: %d file(s), %d failed; %d error(s), %d warning(s), %d information;"
            + " %d ERROR issue(s) downgraded by --ignore%n",
        v.files, v.failedFiles, v.errors, v.warnings, v.infos, v.downgraded);
    if (timings) {
      ERR.printf("fhir-validate: timing: total %d ms%n", ms(t0));
    }
    return v.failedFiles == 0 ? 0 : 1;
  }

  private static int usage(String problem) {
    if (problem != null) {
      ERR.println("fhir-validate: error: " + problem);
    }
    ERR.println(
        "usage: Validate [--ignore <messageId>]... [--timings] <file.json|directory>...");
    return 2;
  }

  private static long ms(long since) {
    return (System.nanoTime() - since) / 1_000_000L;
  }

  private void init() {
    FhirContext ctx = FhirContext.forR4();
    // Base R4 only: Ontario (eHealth Ontario / Ocean) profiles are not
    // reachable offline.  Since HAPI 8.0 the chain caches by itself, so no
    // CachingValidationSupport wrapper.
    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(ctx),
            new CommonCodeSystemsTerminologyService(ctx),
            new InMemoryTerminologyServerValidationSupport(ctx),
            new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator instanceValidator = new FhirInstanceValidator(chain);
    // meta.profile naming an unknown (Ontario) profile: not an error.
    instanceValidator.setErrorForUnknownProfiles(false);
    // Extensions whose definitions we do not have: allowed.
    instanceValidator.setAnyExtensionsAllowed(true);
    validator = ctx.newValidator();
    validator.setValidateAgainstStandardSchema(false);
    validator.setValidateAgainstStandardSchematron(false);
    validator.registerValidatorModule(instanceValidator);
  }

  private void validateFile(Path path) {
    long t0 = System.nanoTime();
    String name = path.toString();
    files++;
    int fileErrors = 0, fileWarnings = 0, fileInfos = 0;

    String text;
    try {
      byte[] bytes = Files.readAllBytes(path);
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
    } catch (CharacterCodingException e) {
      failFile(name, "FATAL [-] file is not valid UTF-8: " + e);
      return;
    } catch (IOException e) {
      failFile(name, "FATAL [-] cannot read file: " + e);
      return;
    }
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1); // tolerate a BOM; the validator chokes on it
    }
    if (text.isBlank()) {
      failFile(name, "FATAL [-] file is empty");
      return;
    }

    ValidationResult result;
    try {
      result = validator.validateWithResult(text);
    } catch (RuntimeException e) {
      // e.g. not JSON at all ("Unable to determine encoding")
      failFile(name, "FATAL [-] cannot validate: " + oneLine(String.valueOf(e.getMessage())));
      return;
    }

    List<SingleValidationMessage> messages = new ArrayList<>(result.getMessages());
    messages.sort(
        Comparator.comparing(
                (SingleValidationMessage m) ->
                    m.getLocationLine() == null ? 0 : m.getLocationLine())
            .thenComparing(m -> m.getLocationCol() == null ? 0 : m.getLocationCol()));
    for (SingleValidationMessage m : messages) {
      ResultSeverityEnum sev = m.getSeverity();
      String id = m.getMessageId() == null ? "-" : m.getMessageId();
      String label;
      if (sev == ResultSeverityEnum.ERROR && ignored.contains(id)) {
        ignoredUsed.add(id);
        downgraded++;
        sev = ResultSeverityEnum.WARNING;
        label = "WARNING (ignored ERROR)";
      } else {
        label = sev == null ? "ERROR" : sev.name();
      }
      if (sev == null || sev == ResultSeverityEnum.ERROR || sev == ResultSeverityEnum.FATAL) {
        fileErrors++;
      } else if (sev == ResultSeverityEnum.WARNING) {
        fileWarnings++;
      } else {
        fileInfos++;
      }
      StringBuilder line = new StringBuilder(name);
      if (m.getLocationLine() != null) {
        line.append(':').append(m.getLocationLine());
        if (m.getLocationCol() != null) {
          line.append(':').append(m.getLocationCol());
        }
      }
      line.append(": ").append(label).append(" [").append(id).append("] ");
      line.append(oneLine(String.valueOf(m.getMessage())));
      if (m.getLocationString() != null && !m.getLocationString().isEmpty()) {
        line.append(" (at ").append(m.getLocationString()).append(')');
      }
      OUT.println(line);
    }
    errors += fileErrors;
    warnings += fileWarnings;
    infos += fileInfos;
    if (fileErrors > 0) {
      failedFiles++;
    }
    OUT.printf(
        "%s: %s (%d error(s), %d warning(s), %d information)%n",
        name, fileErrors > 0 ? "FAIL" : "OK", fileErrors, fileWarnings, fileInfos);
    if (timings) {
      ERR.printf("fhir-validate: timing: %s %d ms%n", name, ms(t0));
    }
  }

  private void failFile(String name, String issue) {
    OUT.println(name + ": " + issue);
    OUT.printf("%s: FAIL (1 error(s), 0 warning(s), 0 information)%n", name);
    errors++;
    failedFiles++;
  }

  private static String oneLine(String s) {
    return s.replace("\r\n", " ").replace('\n', ' ').replace('\r', ' ');
  }
}
