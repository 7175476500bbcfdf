<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
    <context>
        <name>BoundedText</name>
        <message numerus="yes">
            <source>%Ln byte(s)</source>
            <translation>
                <numerusform>%Ln byte</numerusform>
                <numerusform>%Ln bytes</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Commands</name>
        <message numerus="yes">
            <source>Deleted %Ln operation(s).</source>
            <translation>
                <numerusform>Deleted %Ln operation.</numerusform>
                <numerusform>Deleted %Ln operations.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) queued again.</source>
            <translation>
                <numerusform>%Ln operation queued again.</numerusform>
                <numerusform>%Ln operations queued again.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) cancelled.</source>
            <translation>
                <numerusform>%Ln operation cancelled.</numerusform>
                <numerusform>%Ln operations cancelled.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) set to priority {priority}.</source>
            <translation>
                <numerusform>%Ln operation set to priority {priority}.</numerusform>
                <numerusform>%Ln operations set to priority {priority}.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>(%Ln more like it)</source>
            <translation>
                <numerusform>(%Ln more like it)</numerusform>
                <numerusform>(%Ln more like it)</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Removed %Ln completed operation(s).</source>
            <translation>
                <numerusform>Removed %Ln completed operation.</numerusform>
                <numerusform>Removed %Ln completed operations.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Exported %Ln operation(s) to {path}.</source>
            <translation>
                <numerusform>Exported %Ln operation to {path}.</numerusform>
                <numerusform>Exported %Ln operations to {path}.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln file(s)</source>
            <translation>
                <numerusform>%Ln file</numerusform>
                <numerusform>%Ln files</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Exported %Ln operation(s) and {files} to {folder}; they wait for a receipt.</source>
            <translation>
                <numerusform>Exported %Ln operation and {files} to {folder}; they wait for a receipt.</numerusform>
                <numerusform>Exported %Ln operations and {files} to {folder}; they wait for a receipt.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln operation(s) holding secrets stayed here (the command line's bundle export --recipient encrypts them for the other side).</source>
            <translation>
                <numerusform>%Ln operation holding secrets stayed here (the command line's bundle export --recipient encrypts them for the other side).</numerusform>
                <numerusform>%Ln operations holding secrets stayed here (the command line's bundle export --recipient encrypts them for the other side).</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln already here</source>
            <translation>
                <numerusform>%Ln was already here</numerusform>
                <numerusform>%Ln were already here</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Imported %Ln operation(s) from {folder}; {already}.</source>
            <translation>
                <numerusform>Imported %Ln operation from {folder}; {already}.</numerusform>
                <numerusform>Imported %Ln operations from {folder}; {already}.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln held back (a host is paused after repeated failures)</source>
            <translation>
                <numerusform>%Ln held back (a host is paused after repeated failures)</numerusform>
                <numerusform>%Ln held back (a host is paused after repeated failures)</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Confirm</name>
        <message numerus="yes">
            <source>Delete these %Ln operation(s)?</source>
            <translation>
                <numerusform>Delete this %Ln operation?</numerusform>
                <numerusform>Delete these %Ln operations?</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>…and %Ln more.</source>
            <translation>
                <numerusform>…and %Ln more.</numerusform>
                <numerusform>…and %Ln more.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln of them has/have not been sent yet and never will be.</source>
            <translation>
                <numerusform>%Ln of them has not been sent yet and never will be.</numerusform>
                <numerusform>%Ln of them have not been sent yet and never will be.</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Conflicts</name>
        <message numerus="yes">
            <source>%Ln operation(s) changed on the server after you queued them. Choose which version to keep for each.</source>
            <translation>
                <numerusform>%Ln operation changed on the server after you queued it. Choose which version to keep.</numerusform>
                <numerusform>%Ln operations changed on the server after you queued them. Choose which version to keep for each.</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Details</name>
        <message numerus="yes">
            <source>%Ln held back: {hosts} paused after repeated failures</source>
            <translation>
                <numerusform>%Ln held back: {hosts} paused after repeated failures</numerusform>
                <numerusform>%Ln held back: {hosts} paused after repeated failures</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>…and %Ln more with other errors</source>
            <translation>
                <numerusform>…and %Ln more with other errors</numerusform>
                <numerusform>…and %Ln more with other errors</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>FilterBar</name>
        <message numerus="yes">
            <source>%Ln operation(s)</source>
            <translation>
                <numerusform>%Ln operation</numerusform>
                <numerusform>%Ln operations</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln loaded</source>
            <translation>
                <numerusform>%Ln loaded</numerusform>
                <numerusform>%Ln loaded</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Indicator</name>
        <message numerus="yes">
            <source>%Ln pending</source>
            <translation>
                <numerusform>%Ln pending</numerusform>
                <numerusform>%Ln pending</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln in conflict</numerusform>
                <numerusform>%Ln in conflict</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln failed</source>
            <translation>
                <numerusform>%Ln failed</numerusform>
                <numerusform>%Ln failed</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>(%Ln held back)</source>
            <translation>
                <numerusform>(%Ln held back)</numerusform>
                <numerusform>(%Ln held back)</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Inspect</name>
        <message numerus="yes">
            <source>%Ln byte(s)</source>
            <translation>
                <numerusform>%Ln byte</numerusform>
                <numerusform>%Ln bytes</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>{status} · priority {priority} · %Ln of {most} attempts used</source>
            <translation>
                <numerusform>{status} · priority {priority} · %Ln of {most} attempts used</numerusform>
                <numerusform>{status} · priority {priority} · %Ln of {most} attempts used</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>MainWindow</name>
        <message numerus="yes">
            <source>%Ln operation(s) waiting to be sent.</source>
            <translation>
                <numerusform>%Ln operation is waiting to be sent.</numerusform>
                <numerusform>%Ln operations are waiting to be sent.</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>Priority for {names} and %Ln more (higher is sent first):</source>
            <translation>
                <numerusform>Priority for {names} and %Ln more (higher is sent first):</numerusform>
                <numerusform>Priority for {names} and %Ln more (higher is sent first):</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Outcome</name>
        <message numerus="yes">
            <source>%Ln failed for good</source>
            <translation>
                <numerusform>%Ln failed for good</numerusform>
                <numerusform>%Ln failed for good</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln will be retried</source>
            <translation>
                <numerusform>%Ln will be retried</numerusform>
                <numerusform>%Ln will be retried</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln wait(s) for a setting ({settings})</source>
            <translation>
                <numerusform>%Ln waits for a setting ({settings})</numerusform>
                <numerusform>%Ln wait for a setting ({settings})</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln wait(s) for a setting</source>
            <translation>
                <numerusform>%Ln waits for a setting</numerusform>
                <numerusform>%Ln wait for a setting</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln in conflict</numerusform>
                <numerusform>%Ln in conflict</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>{ids} and %Ln more</source>
            <translation>
                <numerusform>{ids} and %Ln more</numerusform>
                <numerusform>{ids} and %Ln more</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>QueueTable</name>
        <message numerus="yes">
            <source>%Ln attempt(s) made, of at most {most}</source>
            <translation>
                <numerusform>%Ln attempt made, of at most {most}</numerusform>
                <numerusform>%Ln attempts made, of at most {most}</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>RunGroups</name>
        <message numerus="yes">
            <source>%Ln failed</source>
            <translation>
                <numerusform>%Ln failed</numerusform>
                <numerusform>%Ln failed</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln in conflict</source>
            <translation>
                <numerusform>%Ln in conflict</numerusform>
                <numerusform>%Ln in conflict</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%Ln to send</source>
            <translation>
                <numerusform>%Ln to send</numerusform>
                <numerusform>%Ln to send</numerusform>
            </translation>
        </message>
    </context>
</TS>
