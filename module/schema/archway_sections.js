// archway_sections.js: declares (or removes) IIS configuration sections in an
// applicationHost.config's <configSections>, as the archway MSIs' registration custom actions
// run it with the 64-bit cscript.exe (IIS) or the system's cscript.exe (x86 package):
//
//   cscript //NoLogo //E:jscript archway_sections.js add    CONFIG system.webServer/archway ...
//   cscript //NoLogo //E:jscript archway_sections.js remove CONFIG system.webServer/archway ...
//
// A schema file in inetsrv\config\schema says what a section holds; IIS also needs the section
// declared, <sectionGroup name="system.webServer"><section name="archway"
// overrideModeDefault="Allow" /></sectionGroup>, or a web.config using it fails with 500.19
// (docs/iis.md §2.2: ANCM's and HttpPlatformHandler's installers do this through
// IAppHostWritableAdminManager from their iisca custom-action DLL; appcmd has no verb for it).
// archway has no custom-action DLL, so this script edits the file with MSXML, the same way for
// IIS and both IIS Express copies (whose appcmd edits their own files, /apphostconfig).
//
// add:    a section already declared is left exactly as it is (another product's
//         overrideModeDefault wins); a missing one is added with overrideModeDefault="Allow".
// remove: the named declarations are removed if present.
// The file is written only when something changed, through a temporary file and a rename.
// [UNCERTAIN] a server with shared configuration (redirection.config) keeps its real
// applicationHost.config elsewhere; this script edits the local file only. Checked by nobody yet.
// Exit codes: 0 done (or nothing to do), 1 bad arguments, 2 config file missing, 3 cannot read,
// parse or write it. Every failure prints one line naming the file and what is wrong.

function fail(code, message) {
    WScript.Echo("archway_sections: " + message);
    WScript.Quit(code);
}

var args = WScript.Arguments;
if (args.length < 3 || (args(0) != "add" && args(0) != "remove")) {
    fail(1, "usage: archway_sections.js add|remove <applicationHost.config> <group/section> [...]");
}
var verb = args(0), path = args(1), names = [];
for (var i = 2; i < args.length; i++) {
    var name = args(i), cut = name.lastIndexOf("/");
    if (cut <= 0 || cut == name.length - 1) fail(1, "section " + name + " is not <group>/<section>, e.g. system.webServer/archway");
    names.push({ group: name.substring(0, cut), section: name.substring(cut + 1) });
}

var fso = new ActiveXObject("Scripting.FileSystemObject");
if (!fso.FileExists(path)) fail(2, path + " does not exist");

var doc = new ActiveXObject("Msxml2.DOMDocument.6.0");
doc.async = false;
doc.preserveWhiteSpace = true;
doc.resolveExternals = false;
doc.validateOnParse = false;
if (!doc.load(path)) {
    fail(3, path + "(" + doc.parseError.line + "," + doc.parseError.linepos + "): " + doc.parseError.reason);
}
var sections = doc.selectSingleNode("/configuration/configSections");
if (sections == null) fail(3, path + " has no <configuration><configSections>; it is not an applicationHost.config");

// The <sectionGroup> for "system.webServer" (nested groups, a/b, one level at a time).
function group(path, create) {
    var node = sections, parts = path.split("/");
    for (var i = 0; i < parts.length; i++) {
        var next = null, children = node.childNodes;
        for (var j = 0; j < children.length; j++) {
            var c = children.item(j);
            if (c.nodeType == 1 && c.nodeName == "sectionGroup" && c.getAttribute("name") == parts[i]) { next = c; break; }
        }
        if (next == null) {
            if (!create) return null;
            next = doc.createElement("sectionGroup");
            next.setAttribute("name", parts[i]);
            node.appendChild(next);
        }
        node = next;
    }
    return node;
}

function declared(groupNode, section) {
    var children = groupNode.childNodes;
    for (var j = 0; j < children.length; j++) {
        var c = children.item(j);
        if (c.nodeType == 1 && c.nodeName == "section" && c.getAttribute("name") == section) return c;
    }
    return null;
}

var changed = [];
for (var k = 0; k < names.length; k++) {
    var n = names[k];
    if (verb == "add") {
        var g = group(n.group, true);
        if (declared(g, n.section) == null) {
            var s = doc.createElement("section");
            s.setAttribute("name", n.section);
            s.setAttribute("overrideModeDefault", "Allow");
            g.appendChild(s);
            changed.push("declared " + n.group + "/" + n.section);
        }
    } else {
        var g2 = group(n.group, false), old = g2 == null ? null : declared(g2, n.section);
        if (old != null) {
            g2.removeChild(old);
            changed.push("removed " + n.group + "/" + n.section);
        }
    }
}
if (changed.length == 0) {
    WScript.Echo("archway_sections: " + path + ": nothing to change");
    WScript.Quit(0);
}
var temp = path + ".archway-tmp";
try {
    doc.save(temp);
    if (fso.FileExists(path)) fso.DeleteFile(path, true);
    fso.MoveFile(temp, path);
} catch (e) {
    fail(3, "cannot write " + path + ": " + e.message);
}
WScript.Echo("archway_sections: " + path + ": " + changed.join(", "));
WScript.Quit(0);
