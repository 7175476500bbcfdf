<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
    <context>
        <name>About</name>
        <message>
            <source>unknown</source>
            <translation>unbekannt</translation>
        </message>
        <message>
            <source>About PEFT Studio Offline</source>
            <translation>Über PEFT Studio Offline</translation>
        </message>
        <message>
            <source>Keeps your fine-tuning work moving without a network: uploads, metrics and model pushes wait in a local queue and are sent when the connection returns.</source>
            <translation>Hält Ihre Fine-Tuning-Arbeit ohne Netzwerk in Gang: Uploads, Metriken und Modell-Pushes warten in einer lokalen Warteschlange und werden gesendet, sobald die Verbindung zurück ist.</translation>
        </message>
        <message>
            <source>Queue: {database}</source>
            <translation>Warteschlange: {database}</translation>
        </message>
    </context>
    <context>
        <name>Actions</name>
        <message>
            <source>Keep &amp;mine (local wins)</source>
            <translation>&amp;Meine behalten (lokal gewinnt)</translation>
        </message>
        <message>
            <source>Keep &amp;theirs (remote wins)</source>
            <translation>&amp;Server-Fassung behalten (Server gewinnt)</translation>
        </message>
        <message>
            <source>Me&amp;rge</source>
            <translation>&amp;Zusammenführen</translation>
        </message>
        <message>
            <source>&amp;Ask me (manual)</source>
            <translation>&amp;Nachfragen (manuell)</translation>
        </message>
        <message>
            <source>&amp;Sync Now</source>
            <translation>&amp;Jetzt synchronisieren</translation>
        </message>
        <message>
            <source>Send every operation that is due now</source>
            <translation>Jeden jetzt fälligen Vorgang senden</translation>
        </message>
        <message>
            <source>&amp;Auto Sync</source>
            <translation>&amp;Automatisch synchronisieren</translation>
        </message>
        <message>
            <source>Sync by itself when the connection is up and work is due</source>
            <translation>Von selbst synchronisieren, wenn die Verbindung steht und Arbeit fällig ist</translation>
        </message>
        <message>
            <source>&amp;Pause Syncing</source>
            <translation>Synchronisation &amp;pausieren</translation>
        </message>
        <message>
            <source>Stop sending until you resume</source>
            <translation>Nichts senden, bis Sie fortsetzen</translation>
        </message>
        <message>
            <source>Check Co&amp;nnectivity Now</source>
            <translation>&amp;Verbindung jetzt prüfen</translation>
        </message>
        <message>
            <source>Probe the configured endpoints now</source>
            <translation>Die eingestellten Endpunkte jetzt prüfen</translation>
        </message>
        <message>
            <source>Resolve &amp;Conflicts…</source>
            <translation>&amp;Konflikte lösen…</translation>
        </message>
        <message>
            <source>Decide between your version and the server's</source>
            <translation>Zwischen Ihrer Fassung und der des Servers entscheiden</translation>
        </message>
        <message>
            <source>Connection &amp;Details…</source>
            <translation>Verbindungs&amp;details…</translation>
        </message>
        <message>
            <source>Endpoints checked, queue numbers and the last sync (the status indicator)</source>
            <translation>Geprüfte Endpunkte, Zahlen der Warteschlange und die letzte Synchronisation (die Statusanzeige)</translation>
        </message>
        <message>
            <source>&amp;Add Operation…</source>
            <translation>Vorgang &amp;hinzufügen…</translation>
        </message>
        <message>
            <source>Queue a new operation by hand</source>
            <translation>Einen neuen Vorgang von Hand einreihen</translation>
        </message>
        <message>
            <source>&amp;Inspect…</source>
            <translation>&amp;Ansehen…</translation>
        </message>
        <message>
            <source>Show everything about this operation</source>
            <translation>Alles über diesen Vorgang zeigen</translation>
        </message>
        <message>
            <source>&amp;Retry Now</source>
            <translation>&amp;Jetzt erneut versuchen</translation>
        </message>
        <message>
            <source>Try the selected operations again now</source>
            <translation>Die ausgewählten Vorgänge jetzt erneut versuchen</translation>
        </message>
        <message>
            <source>Ca&amp;ncel</source>
            <translation>A&amp;bbrechen</translation>
        </message>
        <message>
            <source>Stop the selected operations from being sent</source>
            <translation>Die ausgewählten Vorgänge nicht mehr senden</translation>
        </message>
        <message>
            <source>Change &amp;Priority…</source>
            <translation>&amp;Priorität ändern…</translation>
        </message>
        <message>
            <source>Higher priority operations are sent first</source>
            <translation>Vorgänge mit höherer Priorität werden zuerst gesendet</translation>
        </message>
        <message>
            <source>&amp;Delete Selected…</source>
            <translation>Auswahl &amp;löschen…</translation>
        </message>
        <message>
            <source>Remove the selected operations from the queue</source>
            <translation>Die ausgewählten Vorgänge aus der Warteschlange entfernen</translation>
        </message>
        <message>
            <source>Retry All &amp;Failed</source>
            <translation>Alle &amp;fehlgeschlagenen erneut versuchen</translation>
        </message>
        <message>
            <source>Queue every failed operation again</source>
            <translation>Jeden fehlgeschlagenen Vorgang erneut einreihen</translation>
        </message>
        <message>
            <source>C&amp;lear Completed</source>
            <translation>Abgeschlossene &amp;entfernen</translation>
        </message>
        <message>
            <source>Remove operations that were sent successfully</source>
            <translation>Erfolgreich gesendete Vorgänge entfernen</translation>
        </message>
        <message>
            <source>&amp;Export…</source>
            <translation>E&amp;xportieren…</translation>
        </message>
        <message>
            <source>Save the listed operations as JSON</source>
            <translation>Die aufgelisteten Vorgänge als JSON speichern</translation>
        </message>
        <message>
            <source>&amp;Find</source>
            <translation>&amp;Suchen</translation>
        </message>
        <message>
            <source>&amp;Settings…</source>
            <translation>&amp;Einstellungen…</translation>
        </message>
        <message>
            <source>Endpoints, sync targets, credentials</source>
            <translation>Endpunkte, Synchronisationsziele, Zugangsdaten</translation>
        </message>
        <message>
            <source>Open &amp;Data Folder</source>
            <translation>&amp;Datenordner öffnen</translation>
        </message>
        <message>
            <source>Where the queue database lives</source>
            <translation>Wo die Datenbank der Warteschlange liegt</translation>
        </message>
        <message>
            <source>Export for &amp;Transfer…</source>
            <translation>Für Übertragung e&amp;xportieren…</translation>
        </message>
        <message>
            <source>Write the operations not exported yet, with their files, into a bundle for a connected machine</source>
            <translation>Die noch nicht exportierten Vorgänge samt ihren Dateien in ein Paket für einen verbundenen Rechner schreiben</translation>
        </message>
        <message>
            <source>&amp;Import Transfer…</source>
            <translation>Übertragung &amp;importieren…</translation>
        </message>
        <message>
            <source>Check a bundle from an offline machine and queue what it holds</source>
            <translation>Ein Paket von einem Offline-Rechner prüfen und seinen Inhalt einreihen</translation>
        </message>
        <message>
            <source>&amp;Quit</source>
            <translation>&amp;Beenden</translation>
        </message>
        <message>
            <source>Quit PEFT Studio Offline</source>
            <translation>PEFT Studio Offline beenden</translation>
        </message>
        <message>
            <source>&amp;Keyboard Shortcuts</source>
            <translation>&amp;Tastenkürzel</translation>
        </message>
        <message>
            <source>Open &amp;Log Folder</source>
            <translation>&amp;Protokollordner öffnen</translation>
        </message>
        <message>
            <source>&amp;About PEFT Studio Offline</source>
            <translation>Ü&amp;ber PEFT Studio Offline</translation>
        </message>
        <message>
            <source>&amp;File</source>
            <translation>&amp;Datei</translation>
        </message>
        <message>
            <source>&amp;Sync</source>
            <translation>S&amp;ynchronisation</translation>
        </message>
        <message>
            <source>Conflict S&amp;trategy</source>
            <translation>Konflikt&amp;strategie</translation>
        </message>
        <message>
            <source>&amp;Queue</source>
            <translation>&amp;Warteschlange</translation>
        </message>
        <message>
            <source>&amp;Help</source>
            <translation>&amp;Hilfe</translation>
        </message>
        <message>
            <source>Resolve &amp;Conflicts ({count})…</source>
            <translation>&amp;Konflikte lösen ({count})…</translation>
        </message>
        <message>
            <source>No conflicts: everything queued agrees with the server</source>
            <translation>Keine Konflikte: alles Eingereihte stimmt mit dem Server überein</translation>
        </message>
        <message>
            <source>&amp;Resume Syncing</source>
            <translation>Synchronisation &amp;fortsetzen</translation>
        </message>
    </context>
    <context>
        <name>AddOperation</name>
        <message>
            <source>default</source>
            <translation>Standard</translation>
        </message>
        <message>
            <source>yes</source>
            <translation>ja</translation>
        </message>
        <message>
            <source>no</source>
            <translation>nein</translation>
        </message>
        <message>
            <source>Endpoint</source>
            <translation>Endpunkt</translation>
        </message>
        <message>
            <source>/api/models (relative to the API base URL)</source>
            <translation>/api/models (relativ zur API-Basis-URL)</translation>
        </message>
        <message>
            <source>or full URL</source>
            <translation>oder vollständige URL</translation>
        </message>
        <message>
            <source>Method</source>
            <translation>Methode</translation>
        </message>
        <message>
            <source>Headers</source>
            <translation>Header</translation>
        </message>
        <message>
            <source>JSON body</source>
            <translation>JSON-Inhalt</translation>
        </message>
        <message>
            <source>Local file</source>
            <translation>Lokale Datei</translation>
        </message>
        <message>
            <source>Upload URL</source>
            <translation>Upload-URL</translation>
        </message>
        <message>
            <source>Run id</source>
            <translation>Run-ID</translation>
        </message>
        <message>
            <source>Metrics</source>
            <translation>Metriken</translation>
        </message>
        <message>
            <source>Step</source>
            <translation>Schritt</translation>
        </message>
        <message>
            <source>Push to</source>
            <translation>Pushen nach</translation>
        </message>
        <message>
            <source>Adapter folder</source>
            <translation>Adapter-Ordner</translation>
        </message>
        <message>
            <source>Artifact path</source>
            <translation>Artefaktpfad</translation>
        </message>
        <message>
            <source>Register as</source>
            <translation>Registrieren als</translation>
        </message>
        <message>
            <source>Hub repository</source>
            <translation>Hub-Repository</translation>
        </message>
        <message>
            <source>Branch</source>
            <translation>Branch</translation>
        </message>
        <message>
            <source>Commit message</source>
            <translation>Commit-Nachricht</translation>
        </message>
        <message>
            <source>Private</source>
            <translation>Privat</translation>
        </message>
        <message>
            <source>Create if missing</source>
            <translation>Anlegen, falls fehlend</translation>
        </message>
        <message>
            <source>Folder in repository</source>
            <translation>Ordner im Repository</translation>
        </message>
        <message>
            <source>Only files</source>
            <translation>Nur Dateien</translation>
        </message>
        <message>
            <source>Leave out</source>
            <translation>Auslassen</translation>
        </message>
        <message>
            <source>Tags</source>
            <translation>Tags</translation>
        </message>
        <message>
            <source>Note</source>
            <translation>Notiz</translation>
        </message>
        <message>
            <source>none</source>
            <translation>keine</translation>
        </message>
        <message>
            <source>{field} *:</source>
            <translation>{field} *:</translation>
        </message>
        <message>
            <source>{field}:</source>
            <translation>{field}:</translation>
        </message>
        <message>
            <source>{field} is not valid JSON ({reason} at line {line}).</source>
            <translation>{field} ist kein gültiges JSON ({reason} in Zeile {line}).</translation>
        </message>
        <message>
            <source>{field} must be a JSON object: {example}.</source>
            <translation>{field} muss ein JSON-Objekt sein: {example}.</translation>
        </message>
        <message>
            <source>Error: </source>
            <translation>Fehler: </translation>
        </message>
        <message>
            <source>Add Operation</source>
            <translation>Vorgang hinzufügen</translation>
        </message>
        <message>
            <source>Operation type</source>
            <translation>Vorgangsart</translation>
        </message>
        <message>
            <source>Priority</source>
            <translation>Priorität</translation>
        </message>
        <message>
            <source>Higher priority operations are sent first</source>
            <translation>Vorgänge mit höherer Priorität werden zuerst gesendet</translation>
        </message>
        <message>
            <source>&amp;Type:</source>
            <translation>&amp;Typ:</translation>
        </message>
        <message>
            <source>&amp;Priority:</source>
            <translation>&amp;Priorität:</translation>
        </message>
        <message>
            <source>Add to Queue</source>
            <translation>Einreihen</translation>
        </message>
    </context>
    <context>
        <name>App</name>
        <message>
            <source>Sync could not start: {error}</source>
            <translation>Die Synchronisation konnte nicht starten: {error}</translation>
        </message>
        <message>
            <source>The local API is off: its port is taken (see api.port in the settings).</source>
            <translation>Die lokale API ist aus: ihr Port ist belegt (siehe api.port in den Einstellungen).</translation>
        </message>
        <message>
            <source>Start with a new, empty queue? The damaged file is kept aside, renamed, next to the new one.</source>
            <translation>Mit einer neuen, leeren Warteschlange beginnen? Die beschädigte Datei wird umbenannt neben der neuen aufbewahrt.</translation>
        </message>
    </context>
    <context>
        <name>BoundedText</name>
        <message>
            <source>to queue a large payload, save it to a file and run peft-studio-offline enqueue TYPE @payload.json</source>
            <translation>um große Nutzdaten einzureihen, speichern Sie sie in einer Datei und führen Sie peft-studio-offline enqueue TYPE @payload.json aus</translation>
        </message>
        <message numerus="yes">
            <source>%Ln byte(s)</source>
            <translation>
                <numerusform>%Ln Byte</numerusform>
                <numerusform>%Ln Byte</numerusform>
            </translation>
        </message>
        <message>
            <source>{size} KiB</source>
            <translation>{size} KiB</translation>
        </message>
        <message>
            <source>{size} MB</source>
            <translation>{size} MB</translation>
        </message>
        <message>
            <source>That text is {size}, more than this field takes ({limit}): {hint}.</source>
            <translation>Dieser Text ist {size} groß, mehr als dieses Feld aufnimmt ({limit}): {hint}.</translation>
        </message>
    </context>
    <context>
        <name>Chart</name>
        <message>
            <source>Activity chart</source>
            <translation>Aktivitätsdiagramm</translation>
        </message>
        <message>
            <source>Pending and failed operations, and operations synced, over the last hours</source>
            <translation>Ausstehende und fehlgeschlagene sowie synchronisierte Vorgänge der letzten Stunden</translation>
        </message>
        <message>
            <source>{hours} h ago</source>
            <translation>vor {hours} h</translation>
        </message>
        <message>
            <source>now</source>
            <translation>jetzt</translation>
        </message>
        <message>
            <source>synced (bars, highest {count} per {minutes} min)</source>
            <translation>synchronisiert (Balken, höchstens {count} pro {minutes} min)</translation>
        </message>
        <message>
            <source>pending</source>
            <translation>ausstehend</translation>
        </message>
        <message>
            <source>failed</source>
            <translation>fehlgeschlagen</translation>
        </message>
    </context>
    <context>
        <name>Commands</name>
        <message>
            <source>The network monitor is still starting; try again.</source>
            <translation>Die Netzwerküberwachung startet noch; bitte gleich noch einmal versuchen.</translation>
        </message>
        <message>
            <source>The sync engine is still starting; try again.</source>
            <translation>Die Synchronisierung startet noch; bitte gleich noch einmal versuchen.</translation>
        </message>
        <message>
            <source>Nothing to check: no endpoints or sync targets are set (File → Settings…).</source>
            <translation>Nichts zu prüfen: Es sind keine Endpunkte oder Synchronisationsziele eingestellt (Datei → Einstellungen…).</translation>
        </message>
        <message>
            <source>Checking the connection…</source>
            <translation>Verbindung wird geprüft…</translation>
        </message>
        <message>
            <source>Connection checked: {status}.</source>
            <translation>Verbindung geprüft: {status}.</translation>
        </message>
        <message>
            <source>A sync is already running.</source>
            <translation>Eine Synchronisation läuft bereits.</translation>
        </message>
        <message>
            <source>Automatic sync is on.</source>
            <translation>Automatische Synchronisation ist an.</translation>
        </message>
        <message>
            <source>Automatic sync is off.</source>
            <translation>Automatische Synchronisation ist aus.</translation>
        </message>
        <message>
            <source>Syncing is paused.</source>
            <translation>Synchronisation ist pausiert.</translation>
        </message>
        <message>
            <source>Syncing resumed.</source>
            <translation>Synchronisation fortgesetzt.</translation>
        </message>
        <message>
            <source>Conflicts will be settled with: {strategy}.</source>
            <translation>Konflikte werden so gelöst: {strategy}.</translation>
        </message>
        <message numerus="yes">
            <source>Deleted %Ln operation(s).</source>
            <translation>
                <numerusform>%Ln Vorgang gelöscht.</numerusform>
                <numerusform>%Ln Vorgänge gelöscht.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) queued again.</source>
            <translation>
                <numerusform>%Ln Vorgang erneut eingereiht.</numerusform>
                <numerusform>%Ln Vorgänge erneut eingereiht.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) cancelled.</source>
            <translation>
                <numerusform>%Ln Vorgang abgebrochen.</numerusform>
                <numerusform>%Ln Vorgänge abgebrochen.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) set to priority {priority}.</source>
            <translation>
                <numerusform>%Ln Vorgang auf Priorität {priority} gesetzt.</numerusform>
                <numerusform>%Ln Vorgänge auf Priorität {priority} gesetzt.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>(%Ln more like it)</source>
            <translation>
                <numerusform>(%Ln weiterer dieser Art)</numerusform>
                <numerusform>(%Ln weitere dieser Art)</numerusform>
            </translation>
        </message>
        <message>
            <source>No failed operations to retry.</source>
            <translation>Keine fehlgeschlagenen Vorgänge zum erneuten Versuchen.</translation>
        </message>
        <message numerus="yes">
            <source>Removed %Ln completed operation(s).</source>
            <translation>
                <numerusform>%Ln abgeschlossener Vorgang entfernt.</numerusform>
                <numerusform>%Ln abgeschlossene Vorgänge entfernt.</numerusform>
            </translation>
        </message>
        <message>
            <source>Added operation {id}.</source>
            <translation>Vorgang {id} hinzugefügt.</translation>
        </message>
        <message numerus="yes">
            <source>Exported %Ln operation(s) to {path}.</source>
            <translation>
                <numerusform>%Ln Vorgang nach {path} exportiert.</numerusform>
                <numerusform>%Ln Vorgänge nach {path} exportiert.</numerusform>
            </translation>
        </message>
        <message>
            <source>Exporting for transfer into {folder}…</source>
            <translation>Export für die Übertragung nach {folder}…</translation>
        </message>
        <message numerus="yes">
            <source>%Ln file(s)</source>
            <translation>
                <numerusform>%Ln Datei</numerusform>
                <numerusform>%Ln Dateien</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Exported %Ln operation(s) and {files} to {folder}; they wait for a receipt.</source>
            <translation>
                <numerusform>%Ln Vorgang und {files} nach {folder} exportiert; sie warten auf eine Empfangsbestätigung.</numerusform>
                <numerusform>%Ln Vorgänge und {files} nach {folder} exportiert; sie warten auf eine Empfangsbestätigung.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) holding secrets stayed here (the command line's bundle export --recipient encrypts them for the other side).</source>
            <translation>
                <numerusform>%Ln Vorgang mit Geheimnissen ist hier geblieben (bundle export --recipient auf der Kommandozeile verschlüsselt sie für die andere Seite).</numerusform>
                <numerusform>%Ln Vorgänge mit Geheimnissen sind hier geblieben (bundle export --recipient auf der Kommandozeile verschlüsselt sie für die andere Seite).</numerusform>
            </translation>
        </message>
        <message>
            <source>Checking the bundle in {folder}…</source>
            <translation>Paket in {folder} wird geprüft…</translation>
        </message>
        <message numerus="yes">
            <source>%Ln already here</source>
            <translation>
                <numerusform>%Ln war schon hier</numerusform>
                <numerusform>%Ln waren schon hier</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Imported %Ln operation(s) from {folder}; {already}.</source>
            <translation>
                <numerusform>%Ln Vorgang aus {folder} importiert; {already}.</numerusform>
                <numerusform>%Ln Vorgänge aus {folder} importiert; {already}.</numerusform>
            </translation>
        </message>
        <message>
            <source>Conflict of operation {id} resolved.</source>
            <translation>Konflikt von Vorgang {id} gelöst.</translation>
        </message>
        <message>
            <source>Keep mine (local wins)</source>
            <translation>Meine behalten (lokal gewinnt)</translation>
        </message>
        <message>
            <source>Keep theirs (remote wins)</source>
            <translation>Server-Fassung behalten (Server gewinnt)</translation>
        </message>
        <message>
            <source>Merge</source>
            <translation>Zusammenführen</translation>
        </message>
        <message>
            <source>Ask me (manual)</source>
            <translation>Nachfragen (manuell)</translation>
        </message>
        <message>
            <source>Sync finished: nothing was due.</source>
            <translation>Synchronisation beendet: nichts war fällig.</translation>
        </message>
        <message>
            <source>Sync finished: {sent} of {total} sent</source>
            <translation>Synchronisation beendet: {sent} von {total} gesendet</translation>
        </message>
        <message numerus="yes">
            <source>%Ln held back (a host is paused after repeated failures)</source>
            <translation>
                <numerusform>%Ln zurückgehalten (ein Host ist nach wiederholten Fehlern pausiert)</numerusform>
                <numerusform>%Ln zurückgehalten (ein Host ist nach wiederholten Fehlern pausiert)</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Confirm</name>
        <message>
            <source>Delete operation {operation}?</source>
            <translation>Vorgang {operation} löschen?</translation>
        </message>
        <message numerus="yes">
            <source>Delete these %Ln operation(s)?</source>
            <translation>
                <numerusform>Diesen %Ln Vorgang löschen?</numerusform>
                <numerusform>Diese %Ln Vorgänge löschen?</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>…and %Ln more.</source>
            <translation>
                <numerusform>…und %Ln weiterer.</numerusform>
                <numerusform>…und %Ln weitere.</numerusform>
            </translation>
        </message>
        <message>
            <source>Delete Operation</source>
            <translation>Vorgang löschen</translation>
        </message>
        <message>
            <source>Delete Operations</source>
            <translation>Vorgänge löschen</translation>
        </message>
        <message>
            <source>This cannot be undone.</source>
            <translation>Das kann nicht rückgängig gemacht werden.</translation>
        </message>
        <message>
            <source>Delete</source>
            <translation>Löschen</translation>
        </message>
        <message>
            <source>It has not been sent yet and never will be.</source>
            <translation>Er wurde noch nicht gesendet und wird es nie werden.</translation>
        </message>
        <message>
            <source>None of them has been sent yet, and none ever will be.</source>
            <translation>Keiner davon wurde bisher gesendet, und keiner wird es je werden.</translation>
        </message>
        <message numerus="yes">
            <source>%Ln of them has/have not been sent yet and never will be.</source>
            <translation>
                <numerusform>%Ln davon wurde noch nicht gesendet und wird es nie werden.</numerusform>
                <numerusform>%Ln davon wurden noch nicht gesendet und werden es nie werden.</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Conflicts</name>
        <message>
            <source>Resolve Conflicts</source>
            <translation>Konflikte lösen</translation>
        </message>
        <message>
            <source>Loading conflicts…</source>
            <translation>Konflikte werden geladen…</translation>
        </message>
        <message>
            <source>Operations in conflict</source>
            <translation>Vorgänge im Konflikt</translation>
        </message>
        <message>
            <source>Yours: queued on this machine</source>
            <translation>Ihre Fassung: auf diesem Rechner eingereiht</translation>
        </message>
        <message>
            <source>Theirs: on the server</source>
            <translation>Server-Fassung: auf dem Server</translation>
        </message>
        <message>
            <source>Base: what both started from</source>
            <translation>Basis: wovon beide ausgingen</translation>
        </message>
        <message>
            <source>Merged result, editable JSON</source>
            <translation>Zusammengeführtes Ergebnis, bearbeitbares JSON</translation>
        </message>
        <message>
            <source>Merged &amp;result (edit before merging):</source>
            <translation>Zusammengeführtes &amp;Ergebnis (vor dem Zusammenführen bearbeiten):</translation>
        </message>
        <message>
            <source>&lt;b&gt;Yours&lt;/b&gt; — queued on this machine</source>
            <translation>&lt;b&gt;Ihre Fassung&lt;/b&gt; — auf diesem Rechner eingereiht</translation>
        </message>
        <message>
            <source>&lt;b&gt;Theirs&lt;/b&gt; — on the server</source>
            <translation>&lt;b&gt;Server-Fassung&lt;/b&gt; — auf dem Server</translation>
        </message>
        <message>
            <source>&lt;b&gt;Base&lt;/b&gt; — what both started from</source>
            <translation>&lt;b&gt;Basis&lt;/b&gt; — wovon beide ausgingen</translation>
        </message>
        <message>
            <source>Apply to &amp;all remaining conflicts</source>
            <translation>Auf &amp;alle übrigen Konflikte anwenden</translation>
        </message>
        <message>
            <source>Keep &amp;Mine</source>
            <translation>&amp;Meine behalten</translation>
        </message>
        <message>
            <source>Send your version again, replacing the server's</source>
            <translation>Ihre Fassung erneut senden und die des Servers ersetzen</translation>
        </message>
        <message>
            <source>Keep &amp;Theirs</source>
            <translation>&amp;Server-Fassung behalten</translation>
        </message>
        <message>
            <source>Drop your change and keep the server's version</source>
            <translation>Ihre Änderung verwerfen und die Fassung des Servers behalten</translation>
        </message>
        <message>
            <source>Mer&amp;ge</source>
            <translation>&amp;Zusammenführen</translation>
        </message>
        <message>
            <source>Send the merged result on the right</source>
            <translation>Das zusammengeführte Ergebnis rechts senden</translation>
        </message>
        <message>
            <source>No conflicts: everything queued agrees with the server.</source>
            <translation>Keine Konflikte: alles Eingereihte stimmt mit dem Server überein.</translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) changed on the server after you queued them. Choose which version to keep for each.</source>
            <translation>
                <numerusform>%Ln Vorgang wurde auf dem Server geändert, nachdem Sie ihn eingereiht haben. Wählen Sie, welche Fassung bleiben soll.</numerusform>
                <numerusform>%Ln Vorgänge wurden auf dem Server geändert, nachdem Sie sie eingereiht haben. Wählen Sie für jeden, welche Fassung bleiben soll.</numerusform>
            </translation>
        </message>
        <message>
            <source>&lt;b&gt;Yours&lt;/b&gt; — queued on this machine {time}</source>
            <translation>&lt;b&gt;Ihre Fassung&lt;/b&gt; — auf diesem Rechner eingereiht {time}</translation>
        </message>
        <message>
            <source>&lt;b&gt;Theirs&lt;/b&gt; — on the server, seen {time}, version {version}</source>
            <translation>&lt;b&gt;Server-Fassung&lt;/b&gt; — auf dem Server, gesehen {time}, Version {version}</translation>
        </message>
        <message>
            <source>&lt;b&gt;Theirs&lt;/b&gt; — on the server, seen {time}</source>
            <translation>&lt;b&gt;Server-Fassung&lt;/b&gt; — auf dem Server, gesehen {time}</translation>
        </message>
        <message>
            <source>Base: not known</source>
            <translation>Basis: unbekannt</translation>
        </message>
        <message>
            <source>The merged value is too large to show; Merge sends the suggested merge as it is.</source>
            <translation>Der zusammengeführte Wert ist zu groß zum Anzeigen; Zusammenführen sendet den Vorschlag unverändert.</translation>
        </message>
        <message>
            <source>Changed on both sides: {keys} (the merge keeps yours; edit it to choose).</source>
            <translation>Auf beiden Seiten geändert: {keys} (die Zusammenführung behält Ihre; bearbeiten Sie sie, um zu wählen).</translation>
        </message>
        <message>
            <source>The merged result is not valid JSON (line {line}, column {column}: {reason}).</source>
            <translation>Das zusammengeführte Ergebnis ist kein gültiges JSON (Zeile {line}, Spalte {column}: {reason}).</translation>
        </message>
    </context>
    <context>
        <name>Details</name>
        <message>
            <source>Pending</source>
            <translation>Ausstehend</translation>
        </message>
        <message>
            <source>Sending</source>
            <translation>Wird gesendet</translation>
        </message>
        <message>
            <source>In conflict</source>
            <translation>Im Konflikt</translation>
        </message>
        <message>
            <source>Failed</source>
            <translation>Fehlgeschlagen</translation>
        </message>
        <message>
            <source>Completed</source>
            <translation>Abgeschlossen</translation>
        </message>
        <message>
            <source>Total</source>
            <translation>Gesamt</translation>
        </message>
        <message>
            <source>Connection details</source>
            <translation>Verbindungsdetails</translation>
        </message>
        <message>
            <source>Connectivity</source>
            <translation>Verbindung</translation>
        </message>
        <message>
            <source>Endpoints checked</source>
            <translation>Geprüfte Endpunkte</translation>
        </message>
        <message>
            <source>Endpoint</source>
            <translation>Endpunkt</translation>
        </message>
        <message>
            <source>Result</source>
            <translation>Ergebnis</translation>
        </message>
        <message>
            <source>Latency</source>
            <translation>Latenz</translation>
        </message>
        <message>
            <source>Checked</source>
            <translation>Geprüft</translation>
        </message>
        <message>
            <source>Nothing is checked: no endpoint or sync target (API base URL, MLflow tracking URI) is set.</source>
            <translation>Nichts wird geprüft: kein Endpunkt und kein Synchronisationsziel (API-Basis-URL, MLflow-Tracking-URI) ist eingestellt.</translation>
        </message>
        <message>
            <source>Set Endpoints…</source>
            <translation>Endpunkte einstellen…</translation>
        </message>
        <message>
            <source>Set endpoints or sync targets</source>
            <translation>Endpunkte oder Synchronisationsziele einstellen</translation>
        </message>
        <message>
            <source>Queue</source>
            <translation>Warteschlange</translation>
        </message>
        <message>
            <source>Last sync</source>
            <translation>Letzte Synchronisation</translation>
        </message>
        <message>
            <source>No sync yet in this session.</source>
            <translation>In dieser Sitzung noch keine Synchronisation.</translation>
        </message>
        <message>
            <source>Activity</source>
            <translation>Aktivität</translation>
        </message>
        <message>
            <source>Checked {when}</source>
            <translation>Geprüft {when}</translation>
        </message>
        <message>
            <source>Not checked yet</source>
            <translation>Noch nicht geprüft</translation>
        </message>
        <message>
            <source>next {when}</source>
            <translation>nächste {when}</translation>
        </message>
        <message>
            <source>No endpoints or sync targets set</source>
            <translation>Keine Endpunkte oder Synchronisationsziele eingestellt</translation>
        </message>
        <message>
            <source>Not known yet</source>
            <translation>Noch nicht bekannt</translation>
        </message>
        <message>
            <source>OK</source>
            <translation>OK</translation>
        </message>
        <message>
            <source>Intercepted (portal?)</source>
            <translation>Abgefangen (Portal?)</translation>
        </message>
        <message>
            <source>Not checked</source>
            <translation>Nicht geprüft</translation>
        </message>
        <message>
            <source>{ms} ms</source>
            <translation>{ms} ms</translation>
        </message>
        <message>
            <source>{sent} of {total} sent</source>
            <translation>{sent} von {total} gesendet</translation>
        </message>
        <message>
            <source>{when}: {what}</source>
            <translation>{when}: {what}</translation>
        </message>
        <message>
            <source>a host</source>
            <translation>ein Host</translation>
        </message>
        <message numerus="yes">
            <source>%Ln held back: {hosts} paused after repeated failures</source>
            <translation>
                <numerusform>%Ln zurückgehalten: {hosts} nach wiederholten Fehlern pausiert</numerusform>
                <numerusform>%Ln zurückgehalten: {hosts} nach wiederholten Fehlern pausiert</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>…and %Ln more with other errors</source>
            <translation>
                <numerusform>…und %Ln weiterer mit anderen Fehlern</numerusform>
                <numerusform>…und %Ln weitere mit anderen Fehlern</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>FilterBar</name>
        <message>
            <source>All statuses</source>
            <translation>Alle Status</translation>
        </message>
        <message>
            <source>Waiting (pending, sending, conflict)</source>
            <translation>Wartend (ausstehend, sendend, Konflikt)</translation>
        </message>
        <message>
            <source>Search id, type, payload or error  ({keys})</source>
            <translation>ID, Art, Nutzdaten oder Fehler suchen  ({keys})</translation>
        </message>
        <message>
            <source>Search the queue</source>
            <translation>Warteschlange durchsuchen</translation>
        </message>
        <message>
            <source>Filter by status</source>
            <translation>Nach Status filtern</translation>
        </message>
        <message>
            <source>Filter by operation type</source>
            <translation>Nach Vorgangsart filtern</translation>
        </message>
        <message>
            <source>All types</source>
            <translation>Alle Arten</translation>
        </message>
        <message>
            <source>St&amp;atus</source>
            <translation>St&amp;atus</translation>
        </message>
        <message>
            <source>&amp;Type</source>
            <translation>&amp;Typ</translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s)</source>
            <translation>
                <numerusform>%Ln Vorgang</numerusform>
                <numerusform>%Ln Vorgänge</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln loaded</source>
            <translation>
                <numerusform>%Ln geladen</numerusform>
                <numerusform>%Ln geladen</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Indicator</name>
        <message>
            <source>Not checking — no endpoints or sync targets set</source>
            <translation>Keine Prüfung — keine Endpunkte oder Synchronisationsziele eingestellt</translation>
        </message>
        <message numerus="yes">
            <source>%Ln pending</source>
            <translation>
                <numerusform>%Ln ausstehend</numerusform>
                <numerusform>%Ln ausstehend</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln im Konflikt</numerusform>
                <numerusform>%Ln im Konflikt</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln failed</source>
            <translation>
                <numerusform>%Ln fehlgeschlagen</numerusform>
                <numerusform>%Ln fehlgeschlagen</numerusform>
            </translation>
        </message>
        <message>
            <source>Syncing {done} of {total}</source>
            <translation>Synchronisiere {done} von {total}</translation>
        </message>
        <message>
            <source>Syncing…</source>
            <translation>Synchronisiere…</translation>
        </message>
        <message numerus="yes">
            <source>(%Ln held back)</source>
            <translation>
                <numerusform>(%Ln zurückgehalten)</numerusform>
                <numerusform>(%Ln zurückgehalten)</numerusform>
            </translation>
        </message>
        <message>
            <source>Paused</source>
            <translation>Pausiert</translation>
        </message>
        <message>
            <source>({hint})</source>
            <translation>({hint})</translation>
        </message>
        <message>
            <source>Connection and queue status</source>
            <translation>Status von Verbindung und Warteschlange</translation>
        </message>
        <message>
            <source>Press to show connection details and sync controls</source>
            <translation>Drücken, um Verbindungsdetails und Synchronisationssteuerung zu zeigen</translation>
        </message>
        <message>
            <source>click to list them</source>
            <translation>klicken, um sie aufzulisten</translation>
        </message>
        <message>
            <source>Click for details</source>
            <translation>Für Details klicken</translation>
        </message>
        <message>
            <source>{name}: {summary}</source>
            <translation>{name}: {summary}</translation>
        </message>
    </context>
    <context>
        <name>Inspect</name>
        <message numerus="yes">
            <source>%Ln byte(s)</source>
            <translation>
                <numerusform>%Ln Byte</numerusform>
                <numerusform>%Ln Byte</numerusform>
            </translation>
        </message>
        <message>
            <source>{size} KB</source>
            <translation>{size} KB</translation>
        </message>
        <message>
            <source>{size} MB</source>
            <translation>{size} MB</translation>
        </message>
        <message>
            <source>Operation {id} — {type}</source>
            <translation>Vorgang {id} — {type}</translation>
        </message>
        <message>
            <source>Status</source>
            <translation>Status</translation>
        </message>
        <message>
            <source>Why waiting</source>
            <translation>Warum wartend</translation>
        </message>
        <message>
            <source>Idempotency key</source>
            <translation>Idempotenzschlüssel</translation>
        </message>
        <message>
            <source>Depends on</source>
            <translation>Hängt ab von</translation>
        </message>
        <message>
            <source>Times</source>
            <translation>Zeiten</translation>
        </message>
        <message>
            <source>Last error</source>
            <translation>Letzter Fehler</translation>
        </message>
        <message>
            <source>{name}:</source>
            <translation>{name}:</translation>
        </message>
        <message>
            <source>Payload</source>
            <translation>Nutzdaten</translation>
        </message>
        <message>
            <source>Attempt history</source>
            <translation>Verlauf der Versuche</translation>
        </message>
        <message>
            <source>When</source>
            <translation>Wann</translation>
        </message>
        <message>
            <source>Outcome</source>
            <translation>Ergebnis</translation>
        </message>
        <message>
            <source>Error / details</source>
            <translation>Fehler / Details</translation>
        </message>
        <message>
            <source>History</source>
            <translation>Verlauf</translation>
        </message>
        <message>
            <source>Reading the payload…</source>
            <translation>Nutzdaten werden gelesen…</translation>
        </message>
        <message>
            <source>Show &amp;all</source>
            <translation>&amp;Alles anzeigen</translation>
        </message>
        <message>
            <source>Show the whole payload (secrets masked)</source>
            <translation>Die ganzen Nutzdaten anzeigen (Geheimnisse maskiert)</translation>
        </message>
        <message>
            <source>&amp;Save payload…</source>
            <translation>Nutzdaten &amp;speichern…</translation>
        </message>
        <message>
            <source>Save the whole payload as JSON (secrets masked)</source>
            <translation>Die ganzen Nutzdaten als JSON speichern (Geheimnisse maskiert)</translation>
        </message>
        <message>
            <source>Payload, secrets masked</source>
            <translation>Nutzdaten, Geheimnisse maskiert</translation>
        </message>
        <message numerus="yes">
            <source>{status} · priority {priority} · %Ln of {most} attempts used</source>
            <translation>
                <numerusform>{status} · Priorität {priority} · %Ln von {most} Versuchen verbraucht</numerusform>
                <numerusform>{status} · Priorität {priority} · %Ln von {most} Versuchen verbraucht</numerusform>
            </translation>
        </message>
        <message>
            <source>none</source>
            <translation>keine</translation>
        </message>
        <message>
            <source>created {time}</source>
            <translation>erstellt {time}</translation>
        </message>
        <message>
            <source>updated {time}</source>
            <translation>aktualisiert {time}</translation>
        </message>
        <message>
            <source>expires {time}</source>
            <translation>läuft ab {time}</translation>
        </message>
        <message>
            <source>History ({count})</source>
            <translation>Verlauf ({count})</translation>
        </message>
        <message>
            <source>Conflict</source>
            <translation>Konflikt</translation>
        </message>
        <message>
            <source>This operation is no longer in the queue.</source>
            <translation>Dieser Vorgang ist nicht mehr in der Warteschlange.</translation>
        </message>
        <message>
            <source>Not waiting.</source>
            <translation>Wartet nicht.</translation>
        </message>
        <message>
            <source>The payload is {size}; only its first {shown} are shown.</source>
            <translation>Die Nutzdaten sind {size} groß; nur die ersten {shown} werden gezeigt.</translation>
        </message>
        <message>
            <source>The whole payload ({size}).</source>
            <translation>Die ganzen Nutzdaten ({size}).</translation>
        </message>
        <message>
            <source>Formatting the whole payload…</source>
            <translation>Die ganzen Nutzdaten werden formatiert…</translation>
        </message>
        <message>
            <source>Showing the whole payload… {percent}%</source>
            <translation>Die ganzen Nutzdaten werden angezeigt… {percent} %</translation>
        </message>
        <message>
            <source>The whole payload ({size}); lines longer than {limit} characters are broken. Save payload… writes it as it is.</source>
            <translation>Die ganzen Nutzdaten ({size}); Zeilen über {limit} Zeichen werden umbrochen. Nutzdaten speichern… schreibt sie unverändert.</translation>
        </message>
        <message>
            <source>Save Payload</source>
            <translation>Nutzdaten speichern</translation>
        </message>
        <message>
            <source>Saved to {path}.</source>
            <translation>Gespeichert in {path}.</translation>
        </message>
        <message>
            <source>Local (yours):</source>
            <translation>Lokal (Ihre Fassung):</translation>
        </message>
        <message>
            <source>Remote (theirs):</source>
            <translation>Server-Fassung:</translation>
        </message>
        <message>
            <source>Base:</source>
            <translation>Basis:</translation>
        </message>
    </context>
    <context>
        <name>MainWindow</name>
        <message>
            <source>{document} — {app}</source>
            <translation>{document} — {app}</translation>
        </message>
        <message>
            <source>JSON files (*.json)</source>
            <translation>JSON-Dateien (*.json)</translation>
        </message>
        <message>
            <source>Main toolbar</source>
            <translation>Hauptwerkzeugleiste</translation>
        </message>
        <message>
            <source>Group by &amp;Run</source>
            <translation>Nach &amp;Lauf gruppieren</translation>
        </message>
        <message>
            <source>Show operations per MLflow run or Hub repository, with counts per status</source>
            <translation>Vorgänge je MLflow-Lauf oder Hub-Repository zeigen, mit Anzahlen je Status</translation>
        </message>
        <message>
            <source>Sync progress</source>
            <translation>Fortschritt der Synchronisation</translation>
        </message>
        <message>
            <source>%v of %m</source>
            <translation>%v von %m</translation>
        </message>
        <message>
            <source>Storage: {percent}% of its budget</source>
            <translation>Speicher: {percent} % des Budgets</translation>
        </message>
        <message>
            <source>The app's files take {percent}% of their storage budget ({used} of {limit}: the storage budget in File → Settings); finished operations are removed after their retention period.</source>
            <translation>Die Dateien der App belegen {percent} % ihres Speicherbudgets ({used} von {limit}: das Speicherbudget unter Datei → Einstellungen); erledigte Vorgänge werden nach ihrer Aufbewahrungszeit entfernt.</translation>
        </message>
        <message>
            <source>Storage full</source>
            <translation>Speicher voll</translation>
        </message>
        <message>
            <source>Storage almost full</source>
            <translation>Speicher fast voll</translation>
        </message>
        <message>
            <source>Storage filling up</source>
            <translation>Speicher füllt sich</translation>
        </message>
        <message>
            <source>Back online</source>
            <translation>Wieder online</translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) waiting to be sent.</source>
            <translation>
                <numerusform>%Ln Vorgang wartet auf das Senden.</numerusform>
                <numerusform>%Ln Vorgänge warten auf das Senden.</numerusform>
            </translation>
        </message>
        <message>
            <source>Sync finished with problems</source>
            <translation>Synchronisation mit Problemen beendet</translation>
        </message>
        <message>
            <source>Change Priority</source>
            <translation>Priorität ändern</translation>
        </message>
        <message numerus="yes">
            <source>Priority for {names} and %Ln more (higher is sent first):</source>
            <translation>
                <numerusform>Priorität für {names} und %Ln weiteren (höhere wird zuerst gesendet):</numerusform>
                <numerusform>Priorität für {names} und %Ln weitere (höhere wird zuerst gesendet):</numerusform>
            </translation>
        </message>
        <message>
            <source>Priority for {names} (higher is sent first):</source>
            <translation>Priorität für {names} (höhere wird zuerst gesendet):</translation>
        </message>
        <message>
            <source>Export Operations</source>
            <translation>Vorgänge exportieren</translation>
        </message>
        <message>
            <source>Export for Transfer: Choose a Drive or Folder</source>
            <translation>Für Übertragung exportieren: Laufwerk oder Ordner wählen</translation>
        </message>
        <message>
            <source>Import Transfer: Choose the Bundle's Folder</source>
            <translation>Übertragung importieren: Ordner des Pakets wählen</translation>
        </message>
        <message>
            <source>Saved to {file}; some settings take effect at the next start.</source>
            <translation>Gespeichert in {file}; manche Einstellungen wirken erst beim nächsten Start.</translation>
        </message>
        <message>
            <source>The folder is {folder}</source>
            <translation>Der Ordner ist {folder}</translation>
        </message>
    </context>
    <context>
        <name>Network</name>
        <message>
            <source>Online</source>
            <translation>Online</translation>
        </message>
        <message>
            <source>Offline</source>
            <translation>Offline</translation>
        </message>
        <message>
            <source>Limited (captive portal)</source>
            <translation>Eingeschränkt (Captive Portal)</translation>
        </message>
        <message>
            <source>Checking…</source>
            <translation>Wird geprüft…</translation>
        </message>
    </context>
    <context>
        <name>OperationType</name>
        <message>
            <source>API call</source>
            <translation>API-Aufruf</translation>
        </message>
        <message>
            <source>File upload</source>
            <translation>Datei-Upload</translation>
        </message>
        <message>
            <source>Metric log</source>
            <translation>Metrik-Protokoll</translation>
        </message>
        <message>
            <source>Model push</source>
            <translation>Modell-Push</translation>
        </message>
        <message>
            <source>Experiment sync</source>
            <translation>Experiment-Sync</translation>
        </message>
    </context>
    <context>
        <name>Outcome</name>
        <message numerus="yes">
            <source>%Ln failed for good</source>
            <translation>
                <numerusform>%Ln endgültig fehlgeschlagen</numerusform>
                <numerusform>%Ln endgültig fehlgeschlagen</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln will be retried</source>
            <translation>
                <numerusform>%Ln wird erneut versucht</numerusform>
                <numerusform>%Ln werden erneut versucht</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln wait(s) for a setting ({settings})</source>
            <translation>
                <numerusform>%Ln wartet auf eine Einstellung ({settings})</numerusform>
                <numerusform>%Ln warten auf eine Einstellung ({settings})</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln wait(s) for a setting</source>
            <translation>
                <numerusform>%Ln wartet auf eine Einstellung</numerusform>
                <numerusform>%Ln warten auf eine Einstellung</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln im Konflikt</numerusform>
                <numerusform>%Ln im Konflikt</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>{ids} and %Ln more</source>
            <translation>
                <numerusform>{ids} und %Ln weiterer</numerusform>
                <numerusform>{ids} und %Ln weitere</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>QueueTable</name>
        <message>
            <source>ID</source>
            <translation>ID</translation>
        </message>
        <message>
            <source>What</source>
            <translation>Was</translation>
        </message>
        <message>
            <source>Type</source>
            <translation>Art</translation>
        </message>
        <message>
            <source>Host</source>
            <translation>Host</translation>
        </message>
        <message>
            <source>Status</source>
            <translation>Status</translation>
        </message>
        <message>
            <source>Priority</source>
            <translation>Priorität</translation>
        </message>
        <message>
            <source>Attempts</source>
            <translation>Versuche</translation>
        </message>
        <message>
            <source>Created</source>
            <translation>Erstellt</translation>
        </message>
        <message>
            <source>Updated</source>
            <translation>Aktualisiert</translation>
        </message>
        <message>
            <source>Next attempt</source>
            <translation>Nächster Versuch</translation>
        </message>
        <message>
            <source>Last error</source>
            <translation>Letzter Fehler</translation>
        </message>
        <message>
            <source>Waits until operation {id}, which it depends on, is done.</source>
            <translation>Wartet, bis Vorgang {id}, von dem er abhängt, erledigt ist.</translation>
        </message>
        <message>
            <source>Waits for {setting}.</source>
            <translation>Wartet auf {setting}.</translation>
        </message>
        <message>
            <source>Sent when the network is back.</source>
            <translation>Wird gesendet, wenn das Netzwerk zurück ist.</translation>
        </message>
        <message>
            <source>The host is paused after repeated failures; the operation waits for it.</source>
            <translation>Der Host ist nach wiederholten Fehlern pausiert; der Vorgang wartet auf ihn.</translation>
        </message>
        <message>
            <source>Due now</source>
            <translation>Jetzt fällig</translation>
        </message>
        <message>
            <source>needs a setting</source>
            <translation>braucht eine Einstellung</translation>
        </message>
        <message>
            <source>when online</source>
            <translation>wenn online</translation>
        </message>
        <message>
            <source>after #{id}</source>
            <translation>nach #{id}</translation>
        </message>
        <message>
            <source>host paused until {time}</source>
            <translation>Host pausiert bis {time}</translation>
        </message>
        <message numerus="yes">
            <source>%Ln attempt(s) made, of at most {most}</source>
            <translation>
                <numerusform>%Ln Versuch unternommen, von höchstens {most}</numerusform>
                <numerusform>%Ln Versuche unternommen, von höchstens {most}</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>QueueView</name>
        <message>
            <source>Queued operations</source>
            <translation>Eingereihte Vorgänge</translation>
        </message>
        <message>
            <source>No operations match</source>
            <translation>Keine passenden Vorgänge</translation>
        </message>
        <message>
            <source>Clear the search or choose another filter.</source>
            <translation>Leeren Sie die Suche oder wählen Sie einen anderen Filter.</translation>
        </message>
        <message>
            <source>Nothing is queued</source>
            <translation>Nichts ist eingereiht</translation>
        </message>
        <message>
            <source>Uploads, metrics and model pushes made while offline wait here until they can be sent.</source>
            <translation>Uploads, Metriken und Modell-Pushes, die offline entstehen, warten hier, bis sie gesendet werden können.</translation>
        </message>
    </context>
    <context>
        <name>RunGroups</name>
        <message>
            <source>Run or repository</source>
            <translation>Lauf oder Repository</translation>
        </message>
        <message>
            <source>State</source>
            <translation>Zustand</translation>
        </message>
        <message>
            <source>Operations</source>
            <translation>Vorgänge</translation>
        </message>
        <message numerus="yes">
            <source>%Ln failed</source>
            <translation>
                <numerusform>%Ln fehlgeschlagen</numerusform>
                <numerusform>%Ln fehlgeschlagen</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln im Konflikt</numerusform>
                <numerusform>%Ln im Konflikt</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln to send</source>
            <translation>
                <numerusform>%Ln zu senden</numerusform>
                <numerusform>%Ln zu senden</numerusform>
            </translation>
        </message>
        <message>
            <source>Fully delivered</source>
            <translation>Vollständig zugestellt</translation>
        </message>
        <message>
            <source>Ended (some cancelled or expired)</source>
            <translation>Beendet (einige abgebrochen oder abgelaufen)</translation>
        </message>
        <message>
            <source>Operations per run or repository</source>
            <translation>Vorgänge je Lauf oder Repository</translation>
        </message>
    </context>
    <context>
        <name>Settings</name>
        <message>
            <source>Settings</source>
            <translation>Einstellungen</translation>
        </message>
        <message>
            <source>Connectivity</source>
            <translation>Verbindung</translation>
        </message>
        <message>
            <source>list that many in settings.toml instead</source>
            <translation>tragen Sie so viele stattdessen in settings.toml ein</translation>
        </message>
        <message>
            <source>One URL per line. Empty: the health URLs of the sync targets below.</source>
            <translation>Eine URL pro Zeile. Leer: die Health-URLs der Synchronisationsziele unten.</translation>
        </message>
        <message>
            <source>&amp;Endpoints to check</source>
            <translation>Zu prüfende &amp;Endpunkte</translation>
        </message>
        <message>
            <source>Check e&amp;very</source>
            <translation>Prüf&amp;intervall</translation>
        </message>
        <message>
            <source>&amp;Timeout</source>
            <translation>&amp;Zeitlimit</translation>
        </message>
        <message>
            <source>Sync</source>
            <translation>Synchronisation</translation>
        </message>
        <message>
            <source>Sync automatically when online</source>
            <translation>Automatisch synchronisieren, wenn online</translation>
        </message>
        <message>
            <source>&amp;Auto sync</source>
            <translation>Automatisch &amp;synchronisieren</translation>
        </message>
        <message>
            <source>Default &amp;strategy</source>
            <translation>&amp;Konfliktstrategie</translation>
        </message>
        <message>
            <source>API &amp;base URL</source>
            <translation>API-&amp;Basis-URL</translation>
        </message>
        <message>
            <source>&amp;MLflow tracking URI</source>
            <translation>&amp;MLflow-Tracking-URI</translation>
        </message>
        <message>
            <source>&amp;Hugging Face Hub</source>
            <translation>&amp;Hugging Face Hub</translation>
        </message>
        <message>
            <source>One folder per line. Files leave only from these. Empty: from anywhere for your own programs, and from nowhere through the local API.</source>
            <translation>Ein Ordner pro Zeile. Dateien verlassen den Rechner nur aus diesen. Leer: von überall für Ihre eigenen Programme, über die lokale API von nirgendwo.</translation>
        </message>
        <message>
            <source>Upload &amp;folders</source>
            <translation>&amp;Upload-Ordner</translation>
        </message>
        <message>
            <source>Storage</source>
            <translation>Speicher</translation>
        </message>
        <message>
            <source> MiB</source>
            <translation> MiB</translation>
        </message>
        <message>
            <source>Automatic</source>
            <translation>Automatisch</translation>
        </message>
        <message>
            <source>What the queue, staged files and logs may take together. Automatic: half of the free space when the app starts, at most 10 GiB.</source>
            <translation>Was Warteschlange, bereitgestellte Dateien und Protokolle zusammen belegen dürfen. Automatisch: die Hälfte des freien Speichers beim Start der App, höchstens 10 GiB.</translation>
        </message>
        <message>
            <source>Storage bu&amp;dget</source>
            <translation>Speicherbu&amp;dget</translation>
        </message>
        <message>
            <source>Keep completed fo&amp;r</source>
            <translation>Erledigte aufbewah&amp;ren</translation>
        </message>
        <message>
            <source>Kee&amp;p failed for</source>
            <translation>Fehlgeschlagene aufbe&amp;wahren</translation>
        </message>
        <message>
            <source>Credentials</source>
            <translation>Zugangsdaten</translation>
        </message>
        <message>
            <source>Tokens are kept in the system keyring (or a file only you can read when there is no keyring), never in the settings file or the queue. Leave a token empty to keep the one stored.</source>
            <translation>Tokens liegen im Schlüsselbund des Systems (oder, ohne Schlüsselbund, in einer Datei, die nur Sie lesen können), nie in der Einstellungsdatei oder der Warteschlange. Lassen Sie ein Token leer, um das gespeicherte zu behalten.</translation>
        </message>
        <message>
            <source>API token &amp;name</source>
            <translation>API-Token-&amp;Name</translation>
        </message>
        <message>
            <source>API token</source>
            <translation>API-Token</translation>
        </message>
        <message>
            <source>API to&amp;ken:</source>
            <translation>API-&amp;Token:</translation>
        </message>
        <message>
            <source>MLf&amp;low token name</source>
            <translation>ML&amp;flow-Token-Name</translation>
        </message>
        <message>
            <source>MLflow token</source>
            <translation>MLflow-Token</translation>
        </message>
        <message>
            <source>MLflow t&amp;oken:</source>
            <translation>MLflow-T&amp;oken:</translation>
        </message>
        <message>
            <source>H&amp;ub token name</source>
            <translation>Hub-Token-N&amp;ame</translation>
        </message>
        <message>
            <source>Hugging Face token</source>
            <translation>Hugging-Face-Token</translation>
        </message>
        <message>
            <source>Hu&amp;gging Face token:</source>
            <translation>Hu&amp;gging-Face-Token:</translation>
        </message>
        <message>
            <source>Settings file: {path}</source>
            <translation>Einstellungsdatei: {path}</translation>
        </message>
        <message>
            <source> s</source>
            <translation> s</translation>
        </message>
        <message>
            <source> days</source>
            <translation> Tage</translation>
        </message>
        <message>
            <source>unchanged</source>
            <translation>unverändert</translation>
        </message>
        <message>
            <source>{label}:</source>
            <translation>{label}:</translation>
        </message>
        <message>
            <source>Give the API token a name to keep it under before entering it.</source>
            <translation>Geben Sie dem API-Token einen Namen, unter dem es gespeichert wird, bevor Sie es eintragen.</translation>
        </message>
        <message>
            <source>Give the MLflow token a name to keep it under before entering it.</source>
            <translation>Geben Sie dem MLflow-Token einen Namen, unter dem es gespeichert wird, bevor Sie es eintragen.</translation>
        </message>
        <message>
            <source>Give the Hugging Face token a name to keep it under before entering it.</source>
            <translation>Geben Sie dem Hugging-Face-Token einen Namen, unter dem es gespeichert wird, bevor Sie es eintragen.</translation>
        </message>
        <message>
            <source>Set by the environment variable {variable} in this session: change or unset it there to edit this here.</source>
            <translation>In dieser Sitzung durch die Umgebungsvariable {variable} gesetzt: Ändern oder entfernen Sie sie dort, um dies hier zu bearbeiten.</translation>
        </message>
        <message>
            <source>None: {variable} is set and empty in this session, so nothing is checked.</source>
            <translation>Keine: {variable} ist in dieser Sitzung gesetzt und leer, daher wird nichts geprüft.</translation>
        </message>
        <message>
            <source>Empty: {variable} is set and empty in this session.</source>
            <translation>Leer: {variable} ist in dieser Sitzung gesetzt und leer.</translation>
        </message>
    </context>
    <context>
        <name>Shortcuts</name>
        <message>
            <source>Open the selected operation</source>
            <translation>Den ausgewählten Vorgang öffnen</translation>
        </message>
        <message>
            <source>Open the context menu of the table</source>
            <translation>Das Kontextmenü der Tabelle öffnen</translation>
        </message>
        <message>
            <source>Move between controls</source>
            <translation>Zwischen Bedienelementen wechseln</translation>
        </message>
        <message>
            <source>Keyboard Shortcuts</source>
            <translation>Tastenkürzel</translation>
        </message>
        <message>
            <source>Keyboard shortcuts</source>
            <translation>Tastenkürzel</translation>
        </message>
        <message>
            <source>Action</source>
            <translation>Aktion</translation>
        </message>
        <message>
            <source>Shortcut</source>
            <translation>Tastenkürzel</translation>
        </message>
    </context>
    <context>
        <name>Status</name>
        <message>
            <source>Pending</source>
            <translation>Ausstehend</translation>
        </message>
        <message>
            <source>Sending</source>
            <translation>Wird gesendet</translation>
        </message>
        <message>
            <source>Completed</source>
            <translation>Abgeschlossen</translation>
        </message>
        <message>
            <source>Failed</source>
            <translation>Fehlgeschlagen</translation>
        </message>
        <message>
            <source>Conflict</source>
            <translation>Konflikt</translation>
        </message>
        <message>
            <source>Cancelled</source>
            <translation>Abgebrochen</translation>
        </message>
        <message>
            <source>Expired</source>
            <translation>Abgelaufen</translation>
        </message>
        <message>
            <source>Exported, awaiting receipt</source>
            <translation>Exportiert, wartet auf Bestätigung</translation>
        </message>
    </context>
    <context>
        <name>Tasks</name>
        <message>
            <source>read the queue counts</source>
            <translation>die Zahlen der Warteschlange lesen</translation>
        </message>
        <message>
            <source>check the connection</source>
            <translation>die Verbindung prüfen</translation>
        </message>
        <message>
            <source>sync</source>
            <translation>synchronisieren</translation>
        </message>
        <message>
            <source>change automatic sync</source>
            <translation>die automatische Synchronisation ändern</translation>
        </message>
        <message>
            <source>pause syncing</source>
            <translation>die Synchronisation pausieren</translation>
        </message>
        <message>
            <source>delete the operations</source>
            <translation>die Vorgänge löschen</translation>
        </message>
        <message>
            <source>retry</source>
            <translation>erneut versuchen</translation>
        </message>
        <message>
            <source>cancel</source>
            <translation>abbrechen</translation>
        </message>
        <message>
            <source>change the priority</source>
            <translation>die Priorität ändern</translation>
        </message>
        <message>
            <source>retry the failed operations</source>
            <translation>die fehlgeschlagenen Vorgänge erneut versuchen</translation>
        </message>
        <message>
            <source>clear the completed operations</source>
            <translation>die abgeschlossenen Vorgänge entfernen</translation>
        </message>
        <message>
            <source>add the operation</source>
            <translation>den Vorgang hinzufügen</translation>
        </message>
        <message>
            <source>export the queue</source>
            <translation>die Warteschlange exportieren</translation>
        </message>
        <message>
            <source>export for transfer</source>
            <translation>für die Übertragung exportieren</translation>
        </message>
        <message>
            <source>import the transfer</source>
            <translation>die Übertragung importieren</translation>
        </message>
        <message>
            <source>read the conflicts</source>
            <translation>die Konflikte lesen</translation>
        </message>
        <message>
            <source>resolve</source>
            <translation>lösen</translation>
        </message>
        <message>
            <source>resolve operation {id}</source>
            <translation>Vorgang {id} lösen</translation>
        </message>
        <message>
            <source>read the operation</source>
            <translation>den Vorgang lesen</translation>
        </message>
        <message>
            <source>show the whole payload</source>
            <translation>die ganzen Nutzdaten anzeigen</translation>
        </message>
        <message>
            <source>save the payload</source>
            <translation>die Nutzdaten speichern</translation>
        </message>
        <message>
            <source>save the settings</source>
            <translation>die Einstellungen speichern</translation>
        </message>
        <message>
            <source>read the queue</source>
            <translation>die Warteschlange lesen</translation>
        </message>
        <message>
            <source>read the queue to its end</source>
            <translation>die Warteschlange bis zum Ende lesen</translation>
        </message>
        <message>
            <source>sort the queue</source>
            <translation>die Warteschlange sortieren</translation>
        </message>
        <message>
            <source>count the queue</source>
            <translation>die Warteschlange zählen</translation>
        </message>
        <message>
            <source>update the queue table</source>
            <translation>die Tabelle der Warteschlange aktualisieren</translation>
        </message>
        <message>
            <source>count operations per run</source>
            <translation>die Vorgänge je Lauf zählen</translation>
        </message>
        <message>
            <source>Could not {what}: {reason}.</source>
            <translation>Konnte nicht {what}: {reason}.</translation>
        </message>
        <message>
            <source>Could not {what} because of an internal error ({error}); see the log.</source>
            <translation>Konnte wegen eines internen Fehlers ({error}) nicht {what}; siehe Protokoll.</translation>
        </message>
    </context>
    <context>
        <name>Time</name>
        <message>
            <source>now</source>
            <translation>jetzt</translation>
        </message>
        <message>
            <source>{n} s</source>
            <translation>{n} s</translation>
        </message>
        <message>
            <source>{n} min</source>
            <translation>{n} min</translation>
        </message>
        <message>
            <source>{n} h</source>
            <translation>{n} h</translation>
        </message>
        <message>
            <source>{n} d</source>
            <translation>{n} d</translation>
        </message>
        <message>
            <source>in {span}</source>
            <translation>in {span}</translation>
        </message>
        <message>
            <source>{span} ago</source>
            <translation>vor {span}</translation>
        </message>
    </context>
    <context>
        <name>Tray</name>
        <message>
            <source>PEFT Studio Offline</source>
            <translation>PEFT Studio Offline</translation>
        </message>
        <message>
            <source>Show Window</source>
            <translation>Fenster zeigen</translation>
        </message>
        <message>
            <source>{title}: {text}</source>
            <translation>{title}: {text}</translation>
        </message>
    </context>
</TS>
