// Commands and flags of hako, matching the docker CLI 28 interface (names, shorthands, value types,
// usage lines). Generated once from `docker COMMAND --help`; edit by hand from now on.
// flags: [long, short, type, description, default?]; args: [min, max] (-1 = unbounded).
export type FlagRow = [string, string, string, string, string?];
export interface CommandSpec {
  usage: string;
  desc: string;
  aliases?: string[];
  sub?: [string, string][];
  args?: [number, number];
  flags: FlagRow[];
}
// `create` and `run` share their flags (as the docker CLI does); `run` adds four and words one
// (--pull) differently. Both lists stay sorted by name, as `--help` prints them.
const createFlags: FlagRow[] = [
  ["add-host", "", "list", "Add a custom host-to-IP mapping (host:ip)"],
  ["annotation", "", "map", "Add an annotation to the container (passed through to the OCI runtime)"],
  ["attach", "a", "list", "Attach to STDIN, STDOUT or STDERR"],
  ["blkio-weight", "", "uint16", "Block IO (relative weight), between 10 and 1000, or 0 to disable", "0"],
  ["blkio-weight-device", "", "list", "Block IO weight (relative device weight)"],
  ["cap-add", "", "list", "Add Linux capabilities"],
  ["cap-drop", "", "list", "Drop Linux capabilities"],
  ["cgroup-parent", "", "string", "Optional parent cgroup for the container"],
  ["cgroupns", "", "string", "Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\ndefault-cgroupns-mode option on the daemon (default)"],
  ["cidfile", "", "string", "Write the container ID to the file"],
  ["cpu-count", "", "int", "CPU count (Windows only)"],
  ["cpu-percent", "", "int", "CPU percent (Windows only)"],
  ["cpu-period", "", "int", "Limit CPU CFS (Completely Fair Scheduler) period"],
  ["cpu-quota", "", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"],
  ["cpu-rt-period", "", "int", "Limit CPU real-time period in microseconds"],
  ["cpu-rt-runtime", "", "int", "Limit CPU real-time runtime in microseconds"],
  ["cpu-shares", "c", "int", "CPU shares (relative weight)"],
  ["cpus", "", "decimal", "Number of CPUs"],
  ["cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"],
  ["cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"],
  ["device", "", "list", "Add a host device to the container"],
  ["device-cgroup-rule", "", "list", "Add a rule to the cgroup allowed devices list"],
  ["device-read-bps", "", "list", "Limit read rate (bytes per second) from a device"],
  ["device-read-iops", "", "list", "Limit read rate (IO per second) from a device"],
  ["device-write-bps", "", "list", "Limit write rate (bytes per second) to a device"],
  ["device-write-iops", "", "list", "Limit write rate (IO per second) to a device"],
  ["disable-content-trust", "", "bool", "Skip image verification", "true"],
  ["dns", "", "list", "Set custom DNS servers"],
  ["dns-option", "", "list", "Set DNS options"],
  ["dns-search", "", "list", "Set custom DNS search domains"],
  ["domainname", "", "string", "Container NIS domain name"],
  ["entrypoint", "", "string", "Overwrite the default ENTRYPOINT of the image"],
  ["env", "e", "list", "Set environment variables"],
  ["env-file", "", "list", "Read in a file of environment variables"],
  ["expose", "", "list", "Expose a port or a range of ports\n--gpus gpu-request                 GPU devices to add to the container ('all' to pass all GPUs)"],
  ["group-add", "", "list", "Add additional groups to join"],
  ["health-cmd", "", "string", "Command to run to check health"],
  ["health-interval", "", "duration", "Time between running the check (ms|s|m|h)", "0s"],
  ["health-retries", "", "int", "Consecutive failures needed to report unhealthy"],
  ["health-start-interval", "", "duration", "Time between running the check during the start period (ms|s|m|h)", "0s"],
  ["health-start-period", "", "duration", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)", "0s"],
  ["health-timeout", "", "duration", "Maximum time to allow one check to run (ms|s|m|h)", "0s"],
  ["help", "", "bool", "Print usage"],
  ["hostname", "h", "string", "Container host name"],
  ["init", "", "bool", "Run an init inside the container that forwards signals and reaps processes"],
  ["interactive", "i", "bool", "Keep STDIN open even if not attached"],
  ["io-maxbandwidth", "", "bytes", "Maximum IO bandwidth limit for the system drive (Windows only)"],
  ["io-maxiops", "", "uint", "Maximum IOps limit for the system drive (Windows only)"],
  ["ip", "", "string", "IPv4 address (e.g., 172.30.100.104)"],
  ["ip6", "", "string", "IPv6 address (e.g., 2001:db8::33)"],
  ["ipc", "", "string", "IPC mode to use"],
  ["isolation", "", "string", "Container isolation technology"],
  ["kernel-memory", "", "bytes", "Kernel memory limit"],
  ["label", "l", "list", "Set meta data on a container"],
  ["label-file", "", "list", "Read in a line delimited file of labels"],
  ["link", "", "list", "Add link to another container"],
  ["link-local-ip", "", "list", "Container IPv4/IPv6 link-local addresses"],
  ["log-driver", "", "string", "Logging driver for the container"],
  ["log-opt", "", "list", "Log driver options"],
  ["mac-address", "", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"],
  ["memory", "m", "bytes", "Memory limit"],
  ["memory-reservation", "", "bytes", "Memory soft limit"],
  ["memory-swap", "", "bytes", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"],
  ["memory-swappiness", "", "int", "Tune container memory swappiness (0 to 100)", "-1"],
  ["mount", "", "mount", "Attach a filesystem mount to the container"],
  ["name", "", "string", "Assign a name to the container"],
  ["network", "", "network", "Connect a container to a network"],
  ["network-alias", "", "list", "Add network-scoped alias for the container"],
  ["no-healthcheck", "", "bool", "Disable any container-specified HEALTHCHECK"],
  ["oom-kill-disable", "", "bool", "Disable OOM Killer"],
  ["oom-score-adj", "", "int", "Tune host's OOM preferences (-1000 to 1000)"],
  ["pid", "", "string", "PID namespace to use"],
  ["pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"],
  ["platform", "", "string", "Set platform if server is multi-platform capable"],
  ["privileged", "", "bool", "Give extended privileges to this container"],
  ["publish", "p", "list", "Publish a container's port(s) to the host"],
  ["publish-all", "P", "bool", "Publish all exposed ports to random ports"],
  ["pull", "", "string", "Pull image before creating (\"always\", \"|missing\", \"never\")", "\"missing\""],
  ["quiet", "q", "bool", "Suppress the pull output"],
  ["read-only", "", "bool", "Mount the container's root filesystem as read only"],
  ["restart", "", "string", "Restart policy to apply when a container exits", "\"no\""],
  ["rm", "", "bool", "Automatically remove the container and its associated anonymous volumes when it exits"],
  ["runtime", "", "string", "Runtime to use for this container"],
  ["security-opt", "", "list", "Security Options"],
  ["shm-size", "", "bytes", "Size of /dev/shm"],
  ["stop-signal", "", "string", "Signal to stop the container"],
  ["stop-timeout", "", "int", "Timeout (in seconds) to stop a container"],
  ["storage-opt", "", "list", "Storage driver options for the container"],
  ["sysctl", "", "map", "Sysctl options"],
  ["tmpfs", "", "list", "Mount a tmpfs directory"],
  ["tty", "t", "bool", "Allocate a pseudo-TTY"],
  ["ulimit", "", "ulimit", "Ulimit options"],
  ["use-api-socket", "", "bool", "Bind mount Docker API socket and required auth"],
  ["user", "u", "string", "Username or UID (format: <name|uid>[:<group|gid>])"],
  ["userns", "", "string", "User namespace to use"],
  ["uts", "", "string", "UTS namespace to use"],
  ["volume", "v", "list", "Bind mount a volume"],
  ["volume-driver", "", "string", "Optional volume driver for the container"],
  ["volumes-from", "", "list", "Mount volumes from the specified container(s)"],
  ["workdir", "w", "string", "Working directory inside the container"],
];
const runFlags: FlagRow[] = withRows(createFlags, [
  ["detach", "d", "bool", "Run container in background and print container ID"],
  ["detach-keys", "", "string", "Override the key sequence for detaching a container"],
  ["pull", "", "string", "Pull image before running (\"always\", \"missing\", \"never\")", "\"missing\""],
  ["sig-proxy", "", "bool", "Proxy received signals to the process", "true"],
]);

/** `base` with `extra` added, a row of the same name replaced, sorted by name. */
function withRows(base: FlagRow[], extra: FlagRow[]): FlagRow[] {
  const byName = new Map(base.map((row) => [row[0], row]));
  for (const row of extra) byName.set(row[0], row);
  return [...byName.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export const specs: Record<string, CommandSpec> = {
 "attach": {
  "usage": "attach [OPTIONS] CONTAINER",
  "desc": "Attach local standard input, output, and error streams to a running container",
  "aliases": [
   "container attach",
   "attach"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "detach-keys",
    "",
    "string",
    "Override the key sequence for detaching a container"
   ],
   [
    "no-stdin",
    "",
    "bool",
    "Do not attach STDIN"
   ],
   [
    "sig-proxy",
    "",
    "bool",
    "Proxy all received signals to the process",
    "true"
   ]
  ]
 },
 "build": {
  "usage": "build [OPTIONS] PATH | URL | -",
  "desc": "Build an image from a Dockerfile",
  "aliases": [
   "image build",
   "build",
   "builder build"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "add-host",
    "",
    "list",
    "Add a custom host-to-IP mapping (\"host:ip\")"
   ],
   [
    "build-arg",
    "",
    "list",
    "Set build-time variables"
   ],
   [
    "cache-from",
    "",
    "strings",
    "Images to consider as cache sources"
   ],
   [
    "cgroup-parent",
    "",
    "string",
    "Set the parent cgroup for the \"RUN\" instructions during build"
   ],
   [
    "compress",
    "",
    "bool",
    "Compress the build context using gzip"
   ],
   [
    "cpu-period",
    "",
    "int",
    "Limit the CPU CFS (Completely Fair Scheduler) period"
   ],
   [
    "cpu-quota",
    "",
    "int",
    "Limit the CPU CFS (Completely Fair Scheduler) quota"
   ],
   [
    "cpu-shares",
    "c",
    "int",
    "CPU shares (relative weight)"
   ],
   [
    "cpuset-cpus",
    "",
    "string",
    "CPUs in which to allow execution (0-3, 0,1)"
   ],
   [
    "cpuset-mems",
    "",
    "string",
    "MEMs in which to allow execution (0-3, 0,1)"
   ],
   [
    "disable-content-trust",
    "",
    "bool",
    "Skip image verification",
    "true"
   ],
   [
    "file",
    "f",
    "string",
    "Name of the Dockerfile (Default is \"PATH/Dockerfile\")"
   ],
   [
    "force-rm",
    "",
    "bool",
    "Always remove intermediate containers"
   ],
   [
    "iidfile",
    "",
    "string",
    "Write the image ID to the file"
   ],
   [
    "isolation",
    "",
    "string",
    "Container isolation technology"
   ],
   [
    "label",
    "",
    "list",
    "Set metadata for an image"
   ],
   [
    "memory",
    "m",
    "bytes",
    "Memory limit"
   ],
   [
    "memory-swap",
    "",
    "bytes",
    "Swap limit equal to memory plus swap: -1 to enable unlimited swap"
   ],
   [
    "network",
    "",
    "string",
    "Set the networking mode for the RUN instructions during build",
    "\"default\""
   ],
   [
    "no-cache",
    "",
    "bool",
    "Do not use cache when building the image"
   ],
   [
    "platform",
    "",
    "string",
    "Set platform if server is multi-platform capable"
   ],
   [
    "pull",
    "",
    "bool",
    "Always attempt to pull a newer version of the image"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Suppress the build output and print image ID on success"
   ],
   [
    "rm",
    "",
    "bool",
    "Remove intermediate containers after a successful build",
    "true"
   ],
   [
    "security-opt",
    "",
    "strings",
    "Security options"
   ],
   [
    "shm-size",
    "",
    "bytes",
    "Size of \"/dev/shm\""
   ],
   [
    "squash",
    "",
    "bool",
    "Squash newly built layers into a single new layer"
   ],
   [
    "tag",
    "t",
    "list",
    "Name and optionally a tag in the \"name:tag\" format"
   ],
   [
    "target",
    "",
    "string",
    "Set the target build stage to build."
   ],
   [
    "ulimit",
    "",
    "ulimit",
    "Ulimit options"
   ]
  ]
 },
 "commit": {
  "usage": "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  "desc": "Create a new image from a container's changes",
  "aliases": [
   "container commit",
   "commit"
  ],
  "args": [
   1,
   2
  ],
  "flags": [
   [
    "author",
    "a",
    "string",
    "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")"
   ],
   [
    "change",
    "c",
    "list",
    "Apply Dockerfile instruction to the created image"
   ],
   [
    "message",
    "m",
    "string",
    "Commit message"
   ],
   [
    "pause",
    "p",
    "bool",
    "Pause container during commit",
    "true"
   ]
  ]
 },
 "container": {
  "usage": "container COMMAND",
  "desc": "Manage containers",
  "sub": [
   [
    "attach",
    "Attach local standard input, output, and error streams to a running container"
   ],
   [
    "commit",
    "Create a new image from a container's changes"
   ],
   [
    "cp",
    "Copy files/folders between a container and the local filesystem"
   ],
   [
    "create",
    "Create a new container"
   ],
   [
    "diff",
    "Inspect changes to files or directories on a container's filesystem"
   ],
   [
    "exec",
    "Execute a command in a running container"
   ],
   [
    "export",
    "Export a container's filesystem as a tar archive"
   ],
   [
    "inspect",
    "Display detailed information on one or more containers"
   ],
   [
    "kill",
    "Kill one or more running containers"
   ],
   [
    "logs",
    "Fetch the logs of a container"
   ],
   [
    "ls",
    "List containers"
   ],
   [
    "pause",
    "Pause all processes within one or more containers"
   ],
   [
    "port",
    "List port mappings or a specific mapping for the container"
   ],
   [
    "prune",
    "Remove all stopped containers"
   ],
   [
    "rename",
    "Rename a container"
   ],
   [
    "restart",
    "Restart one or more containers"
   ],
   [
    "rm",
    "Remove one or more containers"
   ],
   [
    "run",
    "Create and run a new container from an image"
   ],
   [
    "start",
    "Start one or more stopped containers"
   ],
   [
    "stats",
    "Display a live stream of container(s) resource usage statistics"
   ],
   [
    "stop",
    "Stop one or more running containers"
   ],
   [
    "top",
    "Display the running processes of a container"
   ],
   [
    "unpause",
    "Unpause all processes within one or more containers"
   ],
   [
    "update",
    "Update configuration of one or more containers"
   ],
   [
    "wait",
    "Block until one or more containers stop, then print their exit codes"
   ]
  ],
  "flags": []
 },
 "container inspect": {
  "usage": "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Display detailed information on one or more containers",
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "size",
    "s",
    "bool",
    "Display total file sizes"
   ]
  ]
 },
 "container prune": {
  "usage": "container prune [OPTIONS]",
  "desc": "Remove all stopped containers",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "filter",
    "",
    "filter",
    "Provide filter values (e.g. \"until=<timestamp>\")"
   ],
   [
    "force",
    "f",
    "bool",
    "Do not prompt for confirmation"
   ]
  ]
 },
 "cp": {
  "usage": "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-",
  "desc": "docker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
  "aliases": [
   "container cp",
   "cp"
  ],
  "args": [
   2,
   2
  ],
  "flags": [
   [
    "archive",
    "a",
    "bool",
    "Archive mode (copy all uid/gid information)"
   ],
   [
    "follow-link",
    "L",
    "bool",
    "Always follow symbol link in SRC_PATH"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached"
   ]
  ]
 },
 "create": {
  "usage": "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
  "desc": "Create a new container",
  "aliases": [
   "container create",
   "create"
  ],
  "args": [
   1,
   -1
  ],
  "flags": createFlags
 },
 "diff": {
  "usage": "diff CONTAINER",
  "desc": "Inspect changes to files or directories on a container's filesystem",
  "aliases": [
   "container diff",
   "diff"
  ],
  "args": [
   1,
   1
  ],
  "flags": []
 },
 "events": {
  "usage": "events [OPTIONS]",
  "desc": "Get real time events from the server",
  "aliases": [
   "system events",
   "events"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "filter",
    "f",
    "filter",
    "Filter output based on conditions provided"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "since",
    "",
    "string",
    "Show all events created since timestamp"
   ],
   [
    "until",
    "",
    "string",
    "Stream events until this timestamp"
   ]
  ]
 },
 "exec": {
  "usage": "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
  "desc": "Execute a command in a running container",
  "aliases": [
   "container exec",
   "exec"
  ],
  "args": [
   2,
   -1
  ],
  "flags": [
   [
    "detach",
    "d",
    "bool",
    "Detached mode: run command in the background"
   ],
   [
    "detach-keys",
    "",
    "string",
    "Override the key sequence for detaching a container"
   ],
   [
    "env",
    "e",
    "list",
    "Set environment variables"
   ],
   [
    "env-file",
    "",
    "list",
    "Read in a file of environment variables"
   ],
   [
    "interactive",
    "i",
    "bool",
    "Keep STDIN open even if not attached"
   ],
   [
    "privileged",
    "",
    "bool",
    "Give extended privileges to the command"
   ],
   [
    "tty",
    "t",
    "bool",
    "Allocate a pseudo-TTY"
   ],
   [
    "user",
    "u",
    "string",
    "Username or UID (format: \"<name|uid>[:<group|gid>]\")"
   ],
   [
    "workdir",
    "w",
    "string",
    "Working directory inside the container"
   ]
  ]
 },
 "export": {
  "usage": "export [OPTIONS] CONTAINER",
  "desc": "Export a container's filesystem as a tar archive",
  "aliases": [
   "container export",
   "export"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "output",
    "o",
    "string",
    "Write to a file, instead of STDOUT"
   ]
  ]
 },
 "history": {
  "usage": "history [OPTIONS] IMAGE",
  "desc": "Show the history of an image",
  "aliases": [
   "image history",
   "history"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "human",
    "H",
    "bool",
    "Print sizes and dates in human readable format",
    "true"
   ],
   [
    "no-trunc",
    "",
    "bool",
    "Don't truncate output"
   ],
   [
    "platform",
    "",
    "string",
    "Show history for the given platform. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Only show image IDs"
   ]
  ]
 },
 "image": {
  "usage": "image COMMAND",
  "desc": "Manage images",
  "sub": [
   [
    "build",
    "Build an image from a Dockerfile"
   ],
   [
    "history",
    "Show the history of an image"
   ],
   [
    "import",
    "Import the contents from a tarball to create a filesystem image"
   ],
   [
    "inspect",
    "Display detailed information on one or more images"
   ],
   [
    "load",
    "Load an image from a tar archive or STDIN"
   ],
   [
    "ls",
    "List images"
   ],
   [
    "prune",
    "Remove unused images"
   ],
   [
    "pull",
    "Download an image from a registry"
   ],
   [
    "push",
    "Upload an image to a registry"
   ],
   [
    "rm",
    "Remove one or more images"
   ],
   [
    "save",
    "Save one or more images to a tar archive (streamed to STDOUT by default)"
   ],
   [
    "tag",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"
   ]
  ],
  "flags": []
 },
 "image inspect": {
  "usage": "image inspect [OPTIONS] IMAGE [IMAGE...]",
  "desc": "Display detailed information on one or more images",
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "platform",
    "",
    "string",
    "Inspect a specific platform of the multi-platform image.\nIf the image or the server is not multi-platform capable, the command will error out if the platform does not match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)"
   ]
  ]
 },
 "image prune": {
  "usage": "image prune [OPTIONS]",
  "desc": "Remove unused images",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Remove all unused images, not just dangling ones"
   ],
   [
    "filter",
    "",
    "filter",
    "Provide filter values (e.g. \"until=<timestamp>\")"
   ],
   [
    "force",
    "f",
    "bool",
    "Do not prompt for confirmation"
   ]
  ]
 },
 "images": {
  "usage": "images [OPTIONS] [REPOSITORY[:TAG]]",
  "desc": "List images",
  "aliases": [
   "image ls",
   "image list",
   "images"
  ],
  "args": [
   0,
   1
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Show all images"
   ],
   [
    "digests",
    "",
    "bool",
    "Show digests"
   ],
   [
    "filter",
    "f",
    "filter",
    "Filter output based on conditions provided"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "no-trunc",
    "",
    "bool",
    "Don't truncate output"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Only show image IDs"
   ],
   [
    "tree",
    "",
    "bool",
    "List multi-platform images as a tree (EXPERIMENTAL)"
   ]
  ]
 },
 "import": {
  "usage": "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
  "desc": "Import the contents from a tarball to create a filesystem image",
  "aliases": [
   "image import",
   "import"
  ],
  "args": [
   1,
   2
  ],
  "flags": [
   [
    "change",
    "c",
    "list",
    "Apply Dockerfile instruction to the created image"
   ],
   [
    "message",
    "m",
    "string",
    "Set commit message for imported image"
   ],
   [
    "platform",
    "",
    "string",
    "Set platform if server is multi-platform capable"
   ]
  ]
 },
 "info": {
  "usage": "info [OPTIONS]",
  "desc": "Display system-wide information",
  "aliases": [
   "system info",
   "info"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ]
  ]
 },
 "inspect": {
  "usage": "inspect [OPTIONS] NAME|ID [NAME|ID...]",
  "desc": "Return low-level information on Docker objects",
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "size",
    "s",
    "bool",
    "Display total file sizes if the type is container"
   ],
   [
    "type",
    "",
    "string",
    "Only inspect objects of the given type"
   ]
  ]
 },
 "kill": {
  "usage": "kill [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Kill one or more running containers",
  "aliases": [
   "container kill",
   "kill"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "signal",
    "s",
    "string",
    "Signal to send to the container"
   ]
  ]
 },
 "load": {
  "usage": "load [OPTIONS]",
  "desc": "Load an image from a tar archive or STDIN",
  "aliases": [
   "image load",
   "load"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "input",
    "i",
    "string",
    "Read from tar archive file, instead of STDIN"
   ],
   [
    "platform",
    "",
    "string",
    "Load only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Suppress the load output"
   ]
  ]
 },
 "login": {
  "usage": "login [OPTIONS] [SERVER]",
  "desc": "Authenticate to a registry.",
  "args": [
   0,
   1
  ],
  "flags": [
   [
    "password",
    "p",
    "string",
    "Password or Personal Access Token (PAT)"
   ],
   [
    "password-stdin",
    "",
    "bool",
    "Take the Password or Personal Access Token (PAT) from stdin"
   ],
   [
    "username",
    "u",
    "string",
    "Username"
   ]
  ]
 },
 "logout": {
  "usage": "logout [SERVER]",
  "desc": "Log out from a registry.",
  "args": [
   0,
   1
  ],
  "flags": []
 },
 "logs": {
  "usage": "logs [OPTIONS] CONTAINER",
  "desc": "Fetch the logs of a container",
  "aliases": [
   "container logs",
   "logs"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "details",
    "",
    "bool",
    "Show extra details provided to logs"
   ],
   [
    "follow",
    "f",
    "bool",
    "Follow log output"
   ],
   [
    "since",
    "",
    "string",
    "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"
   ],
   [
    "tail",
    "n",
    "string",
    "Number of lines to show from the end of the logs",
    "\"all\""
   ],
   [
    "timestamps",
    "t",
    "bool",
    "Show timestamps"
   ],
   [
    "until",
    "",
    "string",
    "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"
   ]
  ]
 },
 "network": {
  "usage": "network COMMAND",
  "desc": "Manage networks",
  "sub": [
   [
    "connect",
    "Connect a container to a network"
   ],
   [
    "create",
    "Create a network"
   ],
   [
    "disconnect",
    "Disconnect a container from a network"
   ],
   [
    "inspect",
    "Display detailed information on one or more networks"
   ],
   [
    "ls",
    "List networks"
   ],
   [
    "prune",
    "Remove all unused networks"
   ],
   [
    "rm",
    "Remove one or more networks"
   ]
  ],
  "flags": []
 },
 "network connect": {
  "usage": "network connect [OPTIONS] NETWORK CONTAINER",
  "desc": "Connect a container to a network",
  "args": [
   2,
   2
  ],
  "flags": [
   [
    "alias",
    "",
    "strings",
    "Add network-scoped alias for the container"
   ],
   [
    "driver-opt",
    "",
    "strings",
    "driver options for the network"
   ],
   [
    "gw-priority",
    "",
    "int",
    "Highest gw-priority provides the default gateway. Accepts positive and negative values."
   ],
   [
    "ip",
    "",
    "string",
    "IPv4 address (e.g., \"172.30.100.104\")"
   ],
   [
    "ip6",
    "",
    "string",
    "IPv6 address (e.g., \"2001:db8::33\")"
   ],
   [
    "link",
    "",
    "list",
    "Add link to another container"
   ],
   [
    "link-local-ip",
    "",
    "strings",
    "Add a link-local address for the container"
   ]
  ]
 },
 "network create": {
  "usage": "network create [OPTIONS] NETWORK",
  "desc": "Create a network",
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "attachable",
    "",
    "bool",
    "Enable manual container attachment"
   ],
   [
    "aux-address",
    "",
    "map",
    "Auxiliary IPv4 or IPv6 addresses used by Network driver"
   ],
   [
    "config-from",
    "",
    "string",
    "The network from which to copy the configuration"
   ],
   [
    "config-only",
    "",
    "bool",
    "Create a configuration only network"
   ],
   [
    "driver",
    "d",
    "string",
    "Driver to manage the Network",
    "\"bridge\""
   ],
   [
    "gateway",
    "",
    "strings",
    "IPv4 or IPv6 Gateway for the master subnet"
   ],
   [
    "ingress",
    "",
    "bool",
    "Create swarm routing-mesh network"
   ],
   [
    "internal",
    "",
    "bool",
    "Restrict external access to the network"
   ],
   [
    "ip-range",
    "",
    "strings",
    "Allocate container ip from a sub-range"
   ],
   [
    "ipam-driver",
    "",
    "string",
    "IP Address Management Driver",
    "\"default\""
   ],
   [
    "ipam-opt",
    "",
    "map",
    "Set IPAM driver specific options"
   ],
   [
    "ipv4",
    "",
    "bool",
    "Enable or disable IPv4 address assignment",
    "true"
   ],
   [
    "ipv6",
    "",
    "bool",
    "Enable or disable IPv6 address assignment"
   ],
   [
    "label",
    "",
    "list",
    "Set metadata on a network"
   ],
   [
    "opt",
    "o",
    "map",
    "Set driver specific options"
   ],
   [
    "scope",
    "",
    "string",
    "Control the network's scope"
   ],
   [
    "subnet",
    "",
    "strings",
    "Subnet in CIDR format that represents a network segment"
   ]
  ]
 },
 "network disconnect": {
  "usage": "network disconnect [OPTIONS] NETWORK CONTAINER",
  "desc": "Disconnect a container from a network",
  "args": [
   2,
   2
  ],
  "flags": [
   [
    "force",
    "f",
    "bool",
    "Force the container to disconnect from a network"
   ]
  ]
 },
 "network inspect": {
  "usage": "network inspect [OPTIONS] NETWORK [NETWORK...]",
  "desc": "Display detailed information on one or more networks",
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "verbose",
    "v",
    "bool",
    "Verbose output for diagnostics"
   ]
  ]
 },
 "network ls": {
  "usage": "network ls [OPTIONS]",
  "desc": "List networks",
  "aliases": [
   "network ls",
   "network list"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "filter",
    "f",
    "filter",
    "Provide filter values (e.g. \"driver=bridge\")"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "no-trunc",
    "",
    "bool",
    "Do not truncate the output"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Only display network IDs"
   ]
  ]
 },
 "network prune": {
  "usage": "network prune [OPTIONS]",
  "desc": "Remove all unused networks",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "filter",
    "",
    "filter",
    "Provide filter values (e.g. \"until=<timestamp>\")"
   ],
   [
    "force",
    "f",
    "bool",
    "Do not prompt for confirmation"
   ]
  ]
 },
 "network rm": {
  "usage": "network rm NETWORK [NETWORK...]",
  "desc": "Remove one or more networks",
  "aliases": [
   "network rm",
   "network remove"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "force",
    "f",
    "bool",
    "Do not error if the network does not exist"
   ]
  ]
 },
 "pause": {
  "usage": "pause CONTAINER [CONTAINER...]",
  "desc": "Pause all processes within one or more containers",
  "aliases": [
   "container pause",
   "pause"
  ],
  "args": [
   1,
   -1
  ],
  "flags": []
 },
 "port": {
  "usage": "port CONTAINER [PRIVATE_PORT[/PROTO]]",
  "desc": "List port mappings or a specific mapping for the container",
  "aliases": [
   "container port",
   "port"
  ],
  "args": [
   1,
   2
  ],
  "flags": []
 },
 "ps": {
  "usage": "ps [OPTIONS]",
  "desc": "List containers",
  "aliases": [
   "container ls",
   "container list",
   "container ps",
   "ps"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Show all containers"
   ],
   [
    "filter",
    "f",
    "filter",
    "Filter output based on conditions provided"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "last",
    "n",
    "int",
    "Show n last created containers (includes all states)",
    "-1"
   ],
   [
    "latest",
    "l",
    "bool",
    "Show the latest created container (includes all states)"
   ],
   [
    "no-trunc",
    "",
    "bool",
    "Don't truncate output"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Only display container IDs"
   ],
   [
    "size",
    "s",
    "bool",
    "Display total file sizes"
   ]
  ]
 },
 "pull": {
  "usage": "pull [OPTIONS] NAME[:TAG|@DIGEST]",
  "desc": "Download an image from a registry",
  "aliases": [
   "image pull",
   "pull"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "all-tags",
    "a",
    "bool",
    "Download all tagged images in the repository"
   ],
   [
    "disable-content-trust",
    "",
    "bool",
    "Skip image verification",
    "true"
   ],
   [
    "platform",
    "",
    "string",
    "Set platform if server is multi-platform capable"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Suppress verbose output"
   ]
  ]
 },
 "push": {
  "usage": "push [OPTIONS] NAME[:TAG]",
  "desc": "Upload an image to a registry",
  "aliases": [
   "image push",
   "push"
  ],
  "args": [
   1,
   1
  ],
  "flags": [
   [
    "all-tags",
    "a",
    "bool",
    "Push all tags of an image to the repository"
   ],
   [
    "disable-content-trust",
    "",
    "bool",
    "Skip image signing",
    "true"
   ],
   [
    "platform",
    "",
    "string",
    "Push a platform-specific manifest as a single-platform image to the registry.\nImage index won't be pushed, meaning that other manifests, including attestations won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Suppress verbose output"
   ]
  ]
 },
 "rename": {
  "usage": "rename CONTAINER NEW_NAME",
  "desc": "Rename a container",
  "aliases": [
   "container rename",
   "rename"
  ],
  "args": [
   2,
   2
  ],
  "flags": []
 },
 "restart": {
  "usage": "restart [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Restart one or more containers",
  "aliases": [
   "container restart",
   "restart"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "signal",
    "s",
    "string",
    "Signal to send to the container"
   ],
   [
    "timeout",
    "t",
    "int",
    "Seconds to wait before killing the container"
   ]
  ]
 },
 "rm": {
  "usage": "rm [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Remove one or more containers",
  "aliases": [
   "container rm",
   "container remove",
   "rm"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "force",
    "f",
    "bool",
    "Force the removal of a running container (uses SIGKILL)"
   ],
   [
    "link",
    "l",
    "bool",
    "Remove the specified link"
   ],
   [
    "volumes",
    "v",
    "bool",
    "Remove anonymous volumes associated with the container"
   ]
  ]
 },
 "rmi": {
  "usage": "rmi [OPTIONS] IMAGE [IMAGE...]",
  "desc": "Remove one or more images",
  "aliases": [
   "image rm",
   "image remove",
   "rmi"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "force",
    "f",
    "bool",
    "Force removal of the image"
   ],
   [
    "no-prune",
    "",
    "bool",
    "Do not delete untagged parents"
   ],
   [
    "platform",
    "",
    "strings",
    "Remove only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")"
   ]
  ]
 },
 "run": {
  "usage": "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  "desc": "Create and run a new container from an image",
  "aliases": [
   "container run",
   "run"
  ],
  "args": [
   1,
   -1
  ],
  "flags": runFlags
 },
 "save": {
  "usage": "save [OPTIONS] IMAGE [IMAGE...]",
  "desc": "Save one or more images to a tar archive (streamed to STDOUT by default)",
  "aliases": [
   "image save",
   "save"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "output",
    "o",
    "string",
    "Write to a file, instead of STDOUT"
   ],
   [
    "platform",
    "",
    "string",
    "Save only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")"
   ]
  ]
 },
 "start": {
  "usage": "start [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Start one or more stopped containers",
  "aliases": [
   "container start",
   "start"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "attach",
    "a",
    "bool",
    "Attach STDOUT/STDERR and forward signals"
   ],
   [
    "checkpoint",
    "",
    "string",
    "Restore from this checkpoint"
   ],
   [
    "checkpoint-dir",
    "",
    "string",
    "Use a custom checkpoint storage directory"
   ],
   [
    "detach-keys",
    "",
    "string",
    "Override the key sequence for detaching a container"
   ],
   [
    "interactive",
    "i",
    "bool",
    "Attach container's STDIN"
   ]
  ]
 },
 "stats": {
  "usage": "stats [OPTIONS] [CONTAINER...]",
  "desc": "Display a live stream of container(s) resource usage statistics",
  "aliases": [
   "container stats",
   "stats"
  ],
  "args": [
   0,
   -1
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Show all containers"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "no-stream",
    "",
    "bool",
    "Disable streaming stats and only pull the first result"
   ],
   [
    "no-trunc",
    "",
    "bool",
    "Do not truncate output"
   ]
  ]
 },
 "stop": {
  "usage": "stop [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Stop one or more running containers",
  "aliases": [
   "container stop",
   "stop"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "signal",
    "s",
    "string",
    "Signal to send to the container"
   ],
   [
    "timeout",
    "t",
    "int",
    "Seconds to wait before killing the container"
   ]
  ]
 },
 "system": {
  "usage": "system COMMAND",
  "desc": "Manage Docker",
  "sub": [
   [
    "df",
    "Show docker disk usage"
   ],
   [
    "events",
    "Get real time events from the server"
   ],
   [
    "info",
    "Display system-wide information"
   ],
   [
    "prune",
    "Remove unused data"
   ]
  ],
  "flags": []
 },
 "system df": {
  "usage": "system df [OPTIONS]",
  "desc": "Show docker disk usage",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "verbose",
    "v",
    "bool",
    "Show detailed information on space usage"
   ]
  ]
 },
 "system prune": {
  "usage": "system prune [OPTIONS]",
  "desc": "Remove unused data",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Remove all unused images not just dangling ones"
   ],
   [
    "filter",
    "",
    "filter",
    "Provide filter values (e.g. \"label=<key>=<value>\")"
   ],
   [
    "force",
    "f",
    "bool",
    "Do not prompt for confirmation"
   ],
   [
    "volumes",
    "",
    "bool",
    "Prune anonymous volumes"
   ]
  ]
 },
 "tag": {
  "usage": "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  "desc": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
  "aliases": [
   "image tag",
   "tag"
  ],
  "args": [
   2,
   2
  ],
  "flags": []
 },
 "top": {
  "usage": "top CONTAINER [ps OPTIONS]",
  "desc": "Display the running processes of a container",
  "aliases": [
   "container top",
   "top"
  ],
  "args": [
   1,
   -1
  ],
  "flags": []
 },
 "unpause": {
  "usage": "unpause CONTAINER [CONTAINER...]",
  "desc": "Unpause all processes within one or more containers",
  "aliases": [
   "container unpause",
   "unpause"
  ],
  "args": [
   1,
   -1
  ],
  "flags": []
 },
 "update": {
  "usage": "update [OPTIONS] CONTAINER [CONTAINER...]",
  "desc": "Update configuration of one or more containers",
  "aliases": [
   "container update",
   "update"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "blkio-weight",
    "",
    "uint16",
    "Block IO (relative weight), between 10 and 1000, or 0 to disable",
    "0"
   ],
   [
    "cpu-period",
    "",
    "int",
    "Limit CPU CFS (Completely Fair Scheduler) period"
   ],
   [
    "cpu-quota",
    "",
    "int",
    "Limit CPU CFS (Completely Fair Scheduler) quota"
   ],
   [
    "cpu-rt-period",
    "",
    "int",
    "Limit the CPU real-time period in microseconds"
   ],
   [
    "cpu-rt-runtime",
    "",
    "int",
    "Limit the CPU real-time runtime in microseconds"
   ],
   [
    "cpu-shares",
    "c",
    "int",
    "CPU shares (relative weight)"
   ],
   [
    "cpus",
    "",
    "decimal",
    "Number of CPUs"
   ],
   [
    "cpuset-cpus",
    "",
    "string",
    "CPUs in which to allow execution (0-3, 0,1)"
   ],
   [
    "cpuset-mems",
    "",
    "string",
    "MEMs in which to allow execution (0-3, 0,1)"
   ],
   [
    "memory",
    "m",
    "bytes",
    "Memory limit"
   ],
   [
    "memory-reservation",
    "",
    "bytes",
    "Memory soft limit"
   ],
   [
    "memory-swap",
    "",
    "bytes",
    "Swap limit equal to memory plus swap: -1 to enable unlimited swap"
   ],
   [
    "pids-limit",
    "",
    "int",
    "Tune container pids limit (set -1 for unlimited)"
   ],
   [
    "restart",
    "",
    "string",
    "Restart policy to apply when a container exits"
   ]
  ]
 },
 "version": {
  "usage": "version [OPTIONS]",
  "desc": "Show the Docker version information",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ]
  ]
 },
 "volume": {
  "usage": "volume COMMAND",
  "desc": "Manage volumes",
  "sub": [
   [
    "create",
    "Create a volume"
   ],
   [
    "inspect",
    "Display detailed information on one or more volumes"
   ],
   [
    "ls",
    "List volumes"
   ],
   [
    "prune",
    "Remove unused local volumes"
   ],
   [
    "rm",
    "Remove one or more volumes"
   ],
   [
    "update",
    "Update a volume (cluster volumes only)"
   ]
  ],
  "flags": []
 },
 "volume create": {
  "usage": "volume create [OPTIONS] [VOLUME]",
  "desc": "Create a volume",
  "args": [
   0,
   1
  ],
  "flags": [
   [
    "availability",
    "",
    "string",
    "Cluster Volume availability (\"active\", \"pause\", \"drain\")",
    "\"active\""
   ],
   [
    "driver",
    "d",
    "string",
    "Specify volume driver name",
    "\"local\""
   ],
   [
    "group",
    "",
    "string",
    "Cluster Volume group (cluster volumes)"
   ],
   [
    "label",
    "",
    "list",
    "Set metadata for a volume"
   ],
   [
    "limit-bytes",
    "",
    "bytes",
    "Minimum size of the Cluster Volume in bytes"
   ],
   [
    "opt",
    "o",
    "map",
    "Set driver specific options"
   ],
   [
    "required-bytes",
    "",
    "bytes",
    "Maximum size of the Cluster Volume in bytes"
   ],
   [
    "scope",
    "",
    "string",
    "Cluster Volume access scope (\"single\", \"multi\")",
    "\"single\""
   ],
   [
    "secret",
    "",
    "map",
    "Cluster Volume secrets"
   ],
   [
    "sharing",
    "",
    "string",
    "Cluster Volume access sharing (\"none\", \"readonly\", \"onewriter\", \"all\")",
    "\"none\""
   ],
   [
    "topology-preferred",
    "",
    "list",
    "A topology that the Cluster Volume would be preferred in"
   ],
   [
    "topology-required",
    "",
    "list",
    "A topology that the Cluster Volume must be accessible from"
   ],
   [
    "type",
    "",
    "string",
    "Cluster Volume access type (\"mount\", \"block\")",
    "\"block\""
   ]
  ]
 },
 "volume inspect": {
  "usage": "volume inspect [OPTIONS] VOLUME [VOLUME...]",
  "desc": "Display detailed information on one or more volumes",
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "format",
    "f",
    "string",
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ]
  ]
 },
 "volume ls": {
  "usage": "volume ls [OPTIONS]",
  "desc": "List volumes",
  "aliases": [
   "volume ls",
   "volume list"
  ],
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "cluster",
    "",
    "bool",
    "Display only cluster volumes, and use cluster volume list formatting"
   ],
   [
    "filter",
    "f",
    "filter",
    "Provide filter values (e.g. \"dangling=true\")"
   ],
   [
    "format",
    "",
    "string",
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
   ],
   [
    "quiet",
    "q",
    "bool",
    "Only display volume names"
   ]
  ]
 },
 "volume prune": {
  "usage": "volume prune [OPTIONS]",
  "desc": "Remove unused local volumes",
  "args": [
   0,
   0
  ],
  "flags": [
   [
    "all",
    "a",
    "bool",
    "Remove all unused volumes, not just anonymous ones"
   ],
   [
    "filter",
    "",
    "filter",
    "Provide filter values (e.g. \"label=<label>\")"
   ],
   [
    "force",
    "f",
    "bool",
    "Do not prompt for confirmation"
   ]
  ]
 },
 "volume rm": {
  "usage": "volume rm [OPTIONS] VOLUME [VOLUME...]",
  "desc": "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
  "aliases": [
   "volume rm",
   "volume remove"
  ],
  "args": [
   1,
   -1
  ],
  "flags": [
   [
    "force",
    "f",
    "bool",
    "Force the removal of one or more volumes"
   ]
  ]
 },
 "wait": {
  "usage": "wait CONTAINER [CONTAINER...]",
  "desc": "Block until one or more containers stop, then print their exit codes",
  "aliases": [
   "container wait",
   "wait"
  ],
  "args": [
   1,
   -1
  ],
  "flags": []
 }
};
